import { randomUUID } from 'node:crypto';
import type { Connection, SyncMessage } from 'rabbitmq-client';
import { bodyBytes } from '../../consumers/json-text.js';
import type { DeadLetter, ReplayOutcome } from '../../contracts/index.js';
import type { BridgeTopology } from './topology.js';

/** Most bytes of a body shown when listing dead letters. */
export const LISTED_BODY_BYTES = 2048;

export type { DeadLetter, ReplayOutcome };

/** Headers the bridge (or the broker) added on the way into the dead-letter queue. */
const ADDED_HEADERS = ['x-rejection-reason', 'x-rejection-detail', 'x-original-exchange', 'x-original-routing-key', 'x-death', 'x-delivery-count'];

/** Names each replayed copy, so that a `basic.return` is matched to the dead letter it came from. */
const REPLAY_ID_HEADER = 'x-replay-id';


/**
 * Where a message was published before it was dead-lettered. The bridge says so in its own headers;
 * a message the broker dead-lettered itself carries only `x-death`, whose first entry is the latest
 * dead-lettering (its own routing key is then the dead-letter queue's name, which routes nowhere).
 */
function originOf(msg: SyncMessage): { routingKey: string; exchange: string | undefined } {
  const headers = msg.headers ?? {};
  const routingKey = headers['x-original-routing-key'];
  if (typeof routingKey === 'string') return { routingKey, exchange: headers['x-original-exchange'] as string | undefined };
  const death = (Array.isArray(headers['x-death']) ? headers['x-death'][0] : undefined) as
    | { 'routing-keys'?: unknown; exchange?: unknown }
    | undefined;
  const deathKey = Array.isArray(death?.['routing-keys']) ? death['routing-keys'][0] : undefined;
  if (typeof deathKey === 'string') return { routingKey: deathKey, exchange: typeof death?.exchange === 'string' ? death.exchange : undefined };
  return { routingKey: msg.routingKey, exchange: undefined };
}

function describe(msg: SyncMessage): DeadLetter {
  const bytes = bodyBytes(msg.body);
  const headers = msg.headers ?? {};
  return {
    messageId: msg.messageId,
    reason: headers['x-rejection-reason'] as string | undefined,
    detail: headers['x-rejection-detail'] as string | undefined,
    ...originOf(msg),
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
   * Publishes up to `limit` dead letters back to the exchange with their original routing key (for one
   * the broker dead-lettered, the routing key in `x-death`) and body, without the headers added on the
   * way in. Each is published `mandatory`: one that reaches no queue is returned by the broker, stays
   * in the dead-letter queue and counts as unroutable; the others leave it once the broker confirmed
   * their copy.
   */
  async replay(limit: number): Promise<ReplayOutcome> {
    const ch = await this.connection.acquire();
    try {
      await ch.confirmSelect();
      // An unroutable mandatory message is confirmed too (basic.ack comes right after basic.return):
      // only the return tells that its copy went nowhere.
      const returned = new Set<unknown>();
      ch.on('basic.return', (msg) => returned.add(msg.headers?.[REPLAY_ID_HEADER]));
      const taken: Array<{ msg: SyncMessage; replayId: string }> = [];
      while (taken.length < limit) {
        const msg = await ch.basicGet({ queue: this.topology.deadLetterQueue.queue });
        if (!msg) break;
        taken.push({ msg, replayId: randomUUID() });
      }
      await Promise.all(
        taken.map(({ msg, replayId }) => {
          const headers = { ...msg.headers };
          for (const name of ADDED_HEADERS) delete headers[name];
          headers['x-replayed-at'] = new Date().toISOString();
          headers[REPLAY_ID_HEADER] = replayId;
          return ch.basicPublish(
            {
              exchange: this.topology.exchange.exchange,
              routingKey: originOf(msg).routingKey,
              mandatory: true,
              durable: true,
              contentType: msg.contentType,
              contentEncoding: msg.contentEncoding,
              messageId: msg.messageId,
              timestamp: msg.timestamp,
              headers,
            },
            bodyBytes(msg.body),
          );
        }),
      );
      // The client emits basic.return on a later turn (setImmediate) than the confirm that follows it
      // on the wire; an immediate queued now runs after every return already received.
      await new Promise((resolve) => setImmediate(resolve));
      let unroutable = 0;
      for (const { msg, replayId } of taken) {
        if (!returned.has(replayId)) {
          ch.basicAck({ deliveryTag: msg.deliveryTag });
          continue;
        }
        // Back to the dead-letter queue: its copy reached no queue, so acking would destroy it.
        ch.basicNack({ deliveryTag: msg.deliveryTag, requeue: true });
        unroutable++;
      }
      const { messageCount } = await ch.queueDeclare(this.topology.deadLetterQueue);
      return { replayed: taken.length - unroutable, unroutable, remaining: messageCount };
    } finally {
      await ch.close();
    }
  }
}
