import { Connection, type SyncMessage } from 'rabbitmq-client';

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

  /** Reads (and acknowledges) up to `count` messages of a queue, waiting up to `timeoutMs` for them. */
  async drain(queue: string, count: number, timeoutMs = 5000): Promise<SyncMessage[]> {
    const messages: SyncMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    const ch = await this.connection.acquire();
    try {
      while (messages.length < count && Date.now() < deadline) {
        const msg = await ch.basicGet({ queue, noAck: true });
        if (msg) messages.push(msg);
        else await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await ch.close();
    }
    return messages;
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
