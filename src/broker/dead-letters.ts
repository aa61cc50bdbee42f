import type { Connection, SyncMessage } from 'rabbitmq-client';
import type { BridgeTopology } from './topology.js';

/** Most bytes of a body shown when listing dead letters. */
export const LISTED_BODY_BYTES = 2048;

export interface DeadLetter {
  messageId?: string | undefined;
  reason: string | undefined;
  detail: string | undefined;
  routingKey: string;
  exchange: string | undefined;
  contentType?: string | undefined;
  /** When it was first published (seconds since the epoch), as the publisher stamped it. */
  timestamp?: number | undefined;
  size: number;
  body: string;
  bodyTruncated: boolean;
}

/** Headers the bridge (or the broker) added on the way into the dead-letter queue. */
const ADDED_HEADERS = ['x-rejection-reason', 'x-rejection-detail', 'x-original-exchange', 'x-original-routing-key', 'x-death', 'x-delivery-count'];

function bytesOf(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  // The AMQP client parses application/json bodies; their JSON is the same value.
  return Buffer.from(JSON.stringify(body) ?? '');
}

function describe(msg: SyncMessage): DeadLetter {
  const bytes = bytesOf(msg.body);
  const headers = msg.headers ?? {};
  return {
    messageId: msg.messageId,
    reason: headers['x-rejection-reason'] as string | undefined,
    detail: headers['x-rejection-detail'] as string | undefined,
    routingKey: (headers['x-original-routing-key'] as string | undefined) ?? msg.routingKey,
    exchange: headers['x-original-exchange'] as string | undefined,
    contentType: msg.contentType,
    timestamp: msg.timestamp,
    size: bytes.length,
    body: bytes.subarray(0, LISTED_BODY_BYTES).toString(),
    bodyTruncated: bytes.length > LISTED_BODY_BYTES,
  };
}

/** The operators' view of `<AMQP_QUEUE>.dead-letter`: list it, and replay it to the exchange. */
export class DeadLetters {
  constructor(
    private readonly connection: Connection,
    private readonly topology: BridgeTopology,
  ) {}

  /** Up to `limit` dead letters, oldest first, left in the queue. */
  async list(limit: number): Promise<{ total: number; messages: DeadLetter[] }> {
    const ch = await this.connection.acquire();
    try {
      const { messageCount } = await ch.queueDeclare(this.topology.deadLetterQueue);
      const messages: DeadLetter[] = [];
      while (messages.length < limit) {
        const msg = await ch.basicGet({ queue: this.topology.deadLetterQueue.queue });
        if (!msg) break;
        messages.push(describe(msg));
      }
      return { total: messageCount, messages };
    } finally {
      // Closing the channel returns every message taken (unacknowledged) to the queue.
      await ch.close();
    }
  }

  /**
   * Publishes up to `limit` dead letters back to the exchange with their original routing key and
   * body, without the headers added on the way in; each leaves the dead-letter queue only after the
   * broker confirmed its copy. Resolves with how many were replayed and how many remain.
   */
  async replay(limit: number): Promise<{ replayed: number; remaining: number }> {
    const ch = await this.connection.acquire();
    try {
      await ch.confirmSelect();
      const taken: SyncMessage[] = [];
      while (taken.length < limit) {
        const msg = await ch.basicGet({ queue: this.topology.deadLetterQueue.queue });
        if (!msg) break;
        taken.push(msg);
      }
      await Promise.all(
        taken.map((msg) => {
          const headers = { ...msg.headers };
          for (const name of ADDED_HEADERS) delete headers[name];
          headers['x-replayed-at'] = new Date().toISOString();
          return ch.basicPublish(
            {
              exchange: this.topology.exchange.exchange,
              routingKey: describe(msg).routingKey,
              durable: true,
              contentType: msg.contentType,
              contentEncoding: msg.contentEncoding,
              messageId: msg.messageId,
              timestamp: msg.timestamp,
              headers,
            },
            bytesOf(msg.body),
          );
        }),
      );
      for (const msg of taken) ch.basicAck({ deliveryTag: msg.deliveryTag });
      const { messageCount } = await ch.queueDeclare(this.topology.deadLetterQueue);
      return { replayed: taken.length, remaining: messageCount };
    } finally {
      await ch.close();
    }
  }
}
