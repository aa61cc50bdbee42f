import { Connection } from 'rabbitmq-client';
import { redactUrl } from '../config.js';
import { ConsumeConnection } from './consume-connection.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Start-up could not reach RabbitMQ; the message is the one line the service prints. */
export class BrokerUnreachableError extends Error {
  override name = 'BrokerUnreachableError';
}

export type ConnectionRole = 'consume' | 'publish';

/** What both kinds of connection tell: each (re)connection, and each loss or failed attempt. */
interface Watched {
  on(event: 'connection', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error & { code?: string | number }) => void): unknown;
}

/**
 * The two AMQP connections of one instance: one consumes, one publishes, so that flow control on
 * publishing never stalls consumption. Each reconnects with capped exponential back-off. The
 * consuming one is amqplib's (the cheaper reader, see ConsumeConnection); publishing stays on
 * rabbitmq-client, which re-declares what its publishers declared.
 */
export class Broker {
  readonly consume: ConsumeConnection;
  readonly publish: Connection;
  /** The last connection error, quoted when start-up gives up. */
  private lastError: string | undefined;

  /**
   * @param name shown to RabbitMQ operators as the connections' names (`<name>:consume`,
   *   `<name>:publish`), so that they can tell instances apart and close one of them.
   */
  constructor(
    private readonly url: string,
    private readonly name: string,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.consume = this.openConsume(metrics);
    this.publish = this.open('publish', metrics);
  }

  /** True while both connections are up. */
  get connected(): boolean {
    return this.consume.ready && this.publish.ready;
  }

  /** Waits for both connections; rejects with a one-line reason naming `AMQP_URL` after `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    try {
      await Promise.all([this.consume.onConnect(timeoutMs), this.publish.onConnect(timeoutMs, true)]);
    } catch (err) {
      const cause = this.lastError ?? (err as Error).message;
      throw new BrokerUnreachableError(
        `RabbitMQ is unreachable at AMQP_URL=${redactUrl(this.url)} (${cause}); start it or set AMQP_URL`,
      );
    }
  }

  /** Closes both connections (consumers and publishers must be closed first). Idempotent. */
  async close(): Promise<void> {
    await Promise.all([this.consume.close(), this.publish.close()]);
  }

  private openConsume(metrics: Metrics): ConsumeConnection {
    const connection = new ConsumeConnection({ url: this.url, name: `${this.name}:consume`, heartbeat: 15, connectTimeoutMs: 5_000 });
    this.watch(connection, 'consume', metrics);
    connection.start();
    return connection;
  }

  /** Counts and logs a connection's reconnections and errors. */
  private watch(connection: Watched, role: ConnectionRole, metrics: Metrics): void {
    const log = this.logger.child({ connection: role });
    let connections = 0;
    connection.on('connection', () => {
      if (connections++ > 0) {
        metrics.brokerReconnects.inc({ connection: role });
        log.info({ event: 'broker.reconnected' }, 'AMQP connection re-established');
      }
    });
    connection.on('error', (err: Error & { code?: string | number }) => {
      this.lastError = err?.message;
      // Before the first connection, start() reports the failure in one line; later, every loss is news.
      const level = connections > 0 ? 'warn' : 'debug';
      log[level]({ event: 'broker.error', err: { message: err?.message, code: err?.code } }, 'AMQP connection error');
    });
  }

  private open(role: ConnectionRole, metrics: Metrics): Connection {
    const log = this.logger.child({ connection: role });
    const connection = new Connection({
      url: this.url,
      connectionName: `${this.name}:${role}`,
      heartbeat: 15,
      retryLow: 250,
      retryHigh: 10_000,
      acquireTimeout: 5_000,
      connectionTimeout: 5_000,
    });
    this.watch(connection, role, metrics);
    connection.on('connection.blocked', (reason) => log.warn({ event: 'broker.blocked', reason }, 'broker blocked'));
    return connection;
  }
}
