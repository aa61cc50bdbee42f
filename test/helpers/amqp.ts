import { Connection, type AsyncMessage } from 'rabbitmq-client';

/** A unique name per test run, so parallel files never share a queue or an exchange. */
export function uniqueName(prefix: string): string {
  return `test.${prefix}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

/** A raw AMQP client for tests: publishes any bytes, reads queues, and deletes what tests declared. */
export class TestAmqp {
  readonly connection: Connection;
  private readonly publisher;

  constructor(url: string) {
    this.connection = new Connection({ url, retryLow: 100, retryHigh: 1000 });
    this.connection.on('error', () => undefined);
    this.publisher = this.connection.createPublisher({ confirm: true });
  }

  /** Publishes a body as-is (bytes or an object serialized as JSON) and waits for the confirm. */
  async publishRaw(
    exchange: string,
    routingKey: string,
    body: Buffer | string | object,
    properties: { contentType?: string; messageId?: string; headers?: Record<string, unknown> } = {},
  ): Promise<void> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    await this.publisher.send(
      { exchange, routingKey, durable: true, contentType: 'application/cloudevents+json', ...properties },
      bytes,
    );
  }

  /** A CloudEvents envelope around `data`, published with `type` as routing key. */
  async publishEvent(exchange: string, type: string, data: unknown, overrides: Record<string, unknown> = {}) {
    const id = (overrides.id as string | undefined) ?? `evt-${Math.random().toString(36).slice(2)}`;
    const event = { specversion: '1.0', id, source: 'test-suite', type, time: new Date().toISOString(), data, ...overrides };
    await this.publishRaw(exchange, type, event);
    return id;
  }

  /** Takes (and acknowledges) up to `count` messages of a queue, waiting up to `timeoutMs` for them. */
  async drain(queue: string, count: number, timeoutMs = 5000): Promise<AsyncMessage[]> {
    const messages: AsyncMessage[] = [];
    let done: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (done = resolve));
    const consumer = this.connection.createConsumer(
      { queue, queueOptions: { queue, passive: true }, noAck: true, qos: { prefetchCount: 500 } },
      (msg) => {
        if (messages.length < count) messages.push(msg);
        if (messages.length >= count) done();
      },
    );
    consumer.on('error', () => undefined);
    await Promise.race([enough, new Promise((r) => setTimeout(r, timeoutMs))]);
    await consumer.close();
    return messages.slice(0, count);
  }

  /**
   * The bodies of every message now in a queue, leaving them there: taken by a consumer without
   * acknowledging, then returned by closing its channel (basic.get is refused on a queue with a
   * single active consumer).
   */
  async peek(queue: string, timeoutMs = 5000): Promise<unknown[]> {
    const expected = await this.messageCount(queue);
    const ch = await this.connection.acquire();
    const bodies: unknown[] = [];
    try {
      if (expected === 0) return bodies;
      await ch.basicQos({ prefetchCount: expected });
      let done: () => void = () => undefined;
      const all = new Promise<void>((resolve) => (done = resolve));
      await ch.basicConsume({ queue }, (msg) => {
        bodies.push(Buffer.isBuffer(msg.body) ? JSON.parse(msg.body.toString()) : msg.body);
        if (bodies.length >= expected) done();
      });
      await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs))]);
    } finally {
      // Closing the channel returns every unacknowledged message to the queue.
      await ch.close();
    }
    return bodies;
  }

  async messageCount(queue: string): Promise<number> {
    return (await this.connection.queueDeclare({ queue, passive: true })).messageCount;
  }

  /** Deletes queues and exchanges, ignoring the ones already gone. */
  async cleanup(queues: string[], exchanges: string[] = []): Promise<void> {
    for (const queue of queues) await this.connection.queueDelete({ queue }).catch(() => undefined);
    for (const exchange of exchanges) await this.connection.exchangeDelete({ exchange }).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.publisher.close();
    await this.connection.close();
  }
}
