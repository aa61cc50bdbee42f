import { Connection } from 'rabbitmq-client';
import { redactUrl } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Start-up could not reach RabbitMQ; the message is the one line the service prints. */
export class BrokerUnreachableError extends Error {
  override name = 'BrokerUnreachableError';
}

export type ConnectionRole = 'consume' | 'publish';

/**
 * The two AMQP connections of one instance: one consumes, one publishes, so that flow control on
 * publishing never stalls consumption. rabbitmq-client reconnects each with capped exponential
 * back-off and re-declares what its consumers and publishers declared.
 */
export class Broker {
  readonly consume: Connection;
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
    this.consume = this.open('consume', metrics);
    this.publish = this.open('publish', metrics);
  }

  /** True while both connections are up. */
  get connected(): boolean {
    return this.consume.ready && this.publish.ready;
  }

  /** Waits for both connections; rejects with a one-line reason naming `AMQP_URL` after `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    try {
      await Promise.all([this.consume.onConnect(timeoutMs, true), this.publish.onConnect(timeoutMs, true)]);
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
    let connections = 0;
    connection.on('connection', () => {
      if (connections++ > 0) {
        metrics.brokerReconnects.inc({ connection: role });
        log.info({ event: 'broker.reconnected' }, 'AMQP connection re-established');
      }
    });
    connection.on('error', (err) => {
      this.lastError = err?.message;
      // Before the first connection, start() reports the failure in one line; later, every loss is news.
      const level = connections > 0 ? 'warn' : 'debug';
      log[level]({ event: 'broker.error', err: { message: err?.message, code: err?.code } }, 'AMQP connection error');
    });
    connection.on('connection.blocked', (reason) => log.warn({ event: 'broker.blocked', reason }, 'broker blocked'));
    return connection;
  }
}
