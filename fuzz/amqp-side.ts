import { Connection, type AsyncMessage, type Publisher } from 'rabbitmq-client';
import { exchangeDeclaration } from '../src/broker/topology.js';

export interface RawProperties {
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  messageId?: string | undefined;
  headers?: Record<string, unknown> | undefined;
}

/** The fuzzer's own AMQP connection: publishes any bytes to the bridge's exchange and reads its queues. */
export class FuzzAmqp {
  readonly connection: Connection;
  private readonly publisher: Publisher;

  constructor(
    url: string,
    readonly exchange: string,
  ) {
    this.connection = new Connection({ url, connectionName: `fuzz:${exchange}`, retryLow: 100, retryHigh: 1_000 });
    this.connection.on('error', () => undefined);
    this.publisher = this.connection.createPublisher({ confirm: true, maxAttempts: 2 });
  }

  /** Declares the exchange with the bridge's own arguments, so that publishing before the bridge is up routes nowhere but fails nothing. */
  async start(): Promise<void> {
    await this.connection.onConnect(10_000, true);
    await this.connection.exchangeDeclare(exchangeDeclaration(this.exchange));
  }

  /** Publishes `body` as-is (the client adds no content type to a Buffer) and waits for the broker's confirm. */
  async publish(routingKey: string, body: Buffer, properties: RawProperties = {}): Promise<void> {
    const clean = Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== undefined));
    await this.publisher.send({ exchange: this.exchange, routingKey, durable: true, ...clean }, body);
  }

  /** Ready messages in a queue, by the broker's count. */
  async messageCount(queue: string): Promise<number> {
    return (await this.connection.queueDeclare({ queue, passive: true })).messageCount;
  }

  /** Takes and acknowledges every message of `queue` (up to `count`), waiting at most `timeoutMs`. */
  async drain(queue: string, count: number, timeoutMs: number): Promise<AsyncMessage[]> {
    const messages: AsyncMessage[] = [];
    if (count === 0) return messages;
    let done: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (done = resolve));
    const consumer = this.connection.createConsumer(
      { queue, queueOptions: { queue, passive: true }, noAck: true, qos: { prefetchCount: 1_000 } },
      (msg) => {
        messages.push(msg);
        if (messages.length >= count) done();
      },
    );
    consumer.on('error', () => undefined);
    await Promise.race([enough, new Promise((r) => setTimeout(r, timeoutMs))]);
    await consumer.close();
    return messages;
  }

  /** Deletes the run's queues and exchange, ignoring those already gone. */
  async cleanup(queues: string[]): Promise<void> {
    for (const queue of queues) await this.connection.queueDelete({ queue }).catch(() => undefined);
    await this.connection.exchangeDelete({ exchange: this.exchange }).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.publisher.close();
    await this.connection.close();
  }
}
