import { Connection } from 'rabbitmq-client';
import { redactUrl } from '../config.js';
import { FailureError } from './command.js';

/** How long a command waits for RabbitMQ before it gives up with exit code 1. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * An open connection to RabbitMQ, or a FailureError naming `AMQP_URL` (password hidden) and the
 * last connection error; the connection closes itself when the wait times out.
 */
export async function openBroker(url: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<Connection> {
  const connection = new Connection({ url, connectionName: 'bridge-cli', acquireTimeout: timeoutMs, retryLow: 200, retryHigh: 1000 });
  let lastError: string | undefined;
  // Without a listener, a connection error would end the process with a stack trace.
  connection.on('error', (err) => (lastError = err.message));
  try {
    await connection.onConnect(timeoutMs);
  } catch (err) {
    throw new FailureError(`RabbitMQ is unreachable at AMQP_URL=${redactUrl(url)} (${lastError ?? (err as Error).message})`);
  }
  return connection;
}
