import { EventEmitter } from 'node:events';
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import type { NowOrLater } from '../state/now-or-later.js';
import type { ConsumeConnection } from './consume-connection.js';

/**
 * What becomes of a handled message: acknowledged, put back in its queue at once, or abandoned (left
 * unsettled: the broker returns it, in order, when the channel closes, to whichever consumer is next).
 */
export type Settlement = 'ack' | 'requeue' | 'abandon';

/** Back-off between attempts to set the channel up again, doubling from the first to the last. */
const RETRY_MS = { first: 100, last: 5_000 } as const;

/**
 * How long a settled delivery waits for the ones before it before it is acknowledged on its own: a
 * delivery whose handler waits (a lock, a store, retries) must not hold back every other trip's.
 */
const STRAGGLER_MS = 20;

type TagState = 'ack' | 'acked' | 'requeued';

/** Where a channel's acknowledgements go; `active` is false once the channel closed. */
export interface AckChannel {
  readonly active: boolean;
  ack(tag: number, multiple: boolean): void;
  requeue(tag: number): void;
}

/**
 * The acknowledgements of an amqplib channel. amqplib acknowledges a message object; it reads only
 * its delivery tag, and a batch of tags needs no message of its own.
 */
export function ackChannelOf(ch: Channel): AckChannel {
  const tagged = (deliveryTag: number) => ({ fields: { deliveryTag } }) as Message;
  const acks = {
    active: true,
    ack: (tag: number, multiple: boolean) => ch.ack(tagged(tag), multiple),
    requeue: (tag: number) => ch.nack(tagged(tag), false, true),
  };
  ch.once('close', () => (acks.active = false));
  return acks;
}

/** When settled deliveries are acknowledged: at once when `batch` of them wait, else `delayMs` after the first. */
export interface AckPacing {
  batch: number;
  delayMs: number;
}

/**
 * How long a settled delivery may wait for its acknowledgement when fewer than half the prefetch
 * count wait with it. Every `basic.ack` is a socket write here and a settlement command in the quorum
 * queue's log; at a few thousand events a second, one per turn of the event loop was nearly one per
 * event. Short, because what is handed out and not yet acknowledged when the process dies is handed
 * out again by the next consumer (without Redis, under a new epoch).
 */
export const ACK_DELAY_MS = 2;

/**
 * Acknowledges half the prefetch count at once, so that the broker never runs out of slots to deliver
 * into: side by side with per-turn batches (3 runs each), a burst of 4,000 events went from 0.80 to
 * 1.05 times the naive forwarder's rate, and p99 at 1,500 events/s from 16.2 to 10.8 ms.
 */
export const ackPacing = (prefetch: number): AckPacing => ({ batch: Math.max(1, Math.floor(prefetch / 2)), delayMs: ACK_DELAY_MS });

/**
 * Acknowledges a channel's deliveries in batches: one `basic.ack` with `multiple` for the longest
 * run of settled deliveries above the floor, sent as soon as `pacing.batch` deliveries wait (before
 * the turn's corked socket writes go out, so that the broker refills the window meanwhile) or
 * `pacing.delayMs` after the first of them, instead of one frame per message; what is settled
 * above an unsettled delivery is acknowledged one by one after STRAGGLER_MS. An acknowledgement is only ever delayed, never sent early, and never twice: a
 * multiple ack ends on a delivery still outstanding, and covers only outstanding ones.
 */
export class AckBatcher {
  /** Every delivery tag up to this one is settled on the broker. */
  private floor = 0;
  /** Tags above the floor already handled. */
  private readonly settled = new Map<number, TagState>();
  /** Settled since the last flush. */
  private waiting = 0;
  private later: NodeJS.Timeout | undefined;
  private stragglers: NodeJS.Timeout | undefined;

  constructor(
    private readonly ch: AckChannel,
    private readonly pacing: AckPacing,
  ) {}

  settle(tag: number, settlement: 'ack' | 'requeue'): void {
    if (settlement === 'requeue') {
      // Sent at once, before any acknowledgement that covers it, so that it is never acknowledged.
      if (this.ch.active) this.ch.requeue(tag);
      this.settled.set(tag, 'requeued');
    } else {
      this.settled.set(tag, 'ack');
    }
    this.waiting += 1;
    // A full batch goes out at once: before the turn's corked socket writes, so that the broker
    // refills the prefetch window while this process writes.
    if (this.waiting >= this.pacing.batch) this.flush();
    else this.later ??= setTimeout(() => this.flush(), this.pacing.delayMs);
  }

  /** Acknowledges the settled run above the floor, up to its last delivery that needs it. */
  flush(): void {
    clearTimeout(this.later);
    this.later = undefined;
    this.waiting = 0;
    let last = 0;
    for (let next = this.floor + 1; this.settled.has(next); next++) {
      if (this.settled.get(next) === 'ack') last = next;
      this.settled.delete(next);
      this.floor = next;
    }
    // On a closed channel the broker already put every unacknowledged delivery back.
    if (last > 0 && this.ch.active) this.ch.ack(last, true);
    if (this.settled.size > 0 && !this.stragglers) this.stragglers = setTimeout(() => this.flushStragglers(), STRAGGLER_MS);
  }

  /** Acknowledges, one by one, what is settled above the floor and not acknowledged yet. */
  flushStragglers(): void {
    clearTimeout(this.stragglers);
    this.stragglers = undefined;
    for (const [tag, state] of this.settled) {
      if (state !== 'ack') continue;
      if (this.ch.active) this.ch.ack(tag, false);
      this.settled.set(tag, 'acked');
    }
  }
}

/** The deliveries of one channel: once it is closed, what it delivered belongs to the next consumer. */
export class ConsumerSession {
  closed = false;
  constructor(readonly id: number) {}
}

export interface QueueConsumerOptions {
  connection: ConsumeConnection;
  queue: string;
  prefetch: number;
  /** Declares what consuming needs (queues, exchanges, bindings) on every new channel. */
  declare: (ch: Channel) => Promise<void>;
  /**
   * Must not throw for a message it could handle; a throw puts the message back and emits 'error'.
   * A settlement given at once is acted on at once: no promise for that message.
   */
  handler: (msg: ConsumeMessage, session: ConsumerSession) => NowOrLater<Settlement>;
  /** Told how long each handler took, in seconds (from delivery to its settlement). */
  handled?: (seconds: number) => void;
}

/**
 * Consumes one queue over its own channel, sets the channel up again after every loss (connection
 * drop, channel error, queue deleted) with capped back-off, and acknowledges in batches. Handlers
 * run as messages arrive: the prefetch count bounds how many are in flight.
 *
 * Deliveries reach the handler as amqplib parses them, in order, within the turn of the event loop
 * that read them; acknowledgements go out in batches (AckBatcher), not one socket write each.
 */
export class QueueConsumer extends EventEmitter<{ ready: []; error: [Error & { code?: string }] }> {
  private ch: Channel | undefined;
  private acks: AckBatcher | undefined;
  private session: ConsumerSession | undefined;
  private sessions = 0;
  /** Handlers running, with when their message was delivered (ms): in delivery order, oldest first. */
  private readonly inFlight = new Map<Promise<void>, number>();
  private setup: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private state: 'idle' | 'running' | 'closing' | 'closed' = 'idle';

  constructor(private readonly options: QueueConsumerOptions) {
    super();
  }

  /** Starts consuming; 'ready' is emitted each time the broker has accepted the consumer. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.options.connection.on('connection', this.reconnected);
    this.connect();
  }

  /** The connection is back: the channel is set up now, not at the end of its back-off. */
  private readonly reconnected = () => {
    if (this.state !== 'running' || this.setup || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retries = 0;
    this.connect();
  };

  /**
   * Stops taking messages, lets the handlers in flight finish, acknowledges them, and only then
   * closes the channel. Not a `basic.cancel` first: with a single active consumer, the broker hands
   * the queue to the next consumer at the cancel, while this one still handles what it holds, and
   * both would emit the same trips at once. Deliveries that arrive meanwhile are left unsettled; the
   * channel's close returns them, in order. Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.options.connection.off('connection', this.reconnected);
    clearTimeout(this.retryTimer);
    await this.setup;
    await Promise.allSettled(this.inFlight.keys());
    this.acks?.flush();
    this.acks?.flushStragglers();
    if (this.session) this.session.closed = true;
    await this.ch?.close().catch(() => undefined);
    this.state = 'closed';
  }

  /**
   * Gives up a session whose messages are another consumer's now (its lease was taken over): closes
   * its channel, which returns what it still holds to the queue, and consumes again on a new one.
   */
  recycle(session: ConsumerSession): void {
    if (session !== this.session || session.closed || this.state !== 'running') return;
    session.closed = true;
    this.ch?.close().catch(() => undefined);
  }

  private connect(): void {
    this.retryTimer = undefined;
    this.setup = this.open().then(
      () => {
        this.setup = undefined;
        this.retries = 0;
        if (this.state === 'running') process.nextTick(() => this.emit('ready'));
      },
      (err: Error) => {
        this.setup = undefined;
        if (this.state !== 'running') return;
        err.message = `consumer setup failed; ${err.message}`;
        // Reported once per outage, not on every attempt.
        if (this.retries === 0) this.emit('error', err);
        this.ch?.close().catch(() => undefined);
        this.scheduleReconnect();
      },
    );
  }

  private scheduleReconnect(): void {
    if (this.state !== 'running' || this.retryTimer || this.setup) return;
    const delay = Math.min(RETRY_MS.last, RETRY_MS.first * 2 ** this.retries++);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private async open(): Promise<void> {
    // Messages of the lost channel are being redelivered already; their handlers finish first, so
    // that one message never runs twice at once here.
    await Promise.allSettled(this.inFlight.keys());
    if (this.state !== 'running') return;
    const { connection, queue, prefetch, declare } = this.options;
    const ch = await connection.channel();
    const session = new ConsumerSession(++this.sessions);
    const acks = new AckBatcher(ackChannelOf(ch), ackPacing(prefetch));
    ch.on('error', (err: Error) => this.emit('error', err));
    ch.once('close', () => {
      session.closed = true;
      if (this.state === 'running') this.scheduleReconnect();
    });
    this.ch = ch;
    this.acks = acks;
    this.session = session;
    await declare(ch);
    await ch.prefetch(prefetch);
    await ch.consume(queue, (msg) => {
      // The server cancels the consumer when its queue is deleted; a new channel declares it again.
      if (msg === null) {
        if (this.state === 'running') ch.close().catch(() => undefined);
      } else this.run(msg, acks, session);
    });
  }

  /** Seconds since the oldest message still being handled was delivered (0 when none is). */
  oldestInFlightSeconds(): number {
    for (const deliveredAt of this.inFlight.values()) return (performance.now() - deliveredAt) / 1000;
    return 0;
  }

  private run(msg: ConsumeMessage, acks: AckBatcher, session: ConsumerSession): void {
    // Closing: left unsettled, for the channel's close to return it to the queue in order.
    if (this.state !== 'running' || session.closed) return;
    const deliveredAt = performance.now();
    let settlement: NowOrLater<Settlement>;
    try {
      settlement = this.options.handler(msg, session);
    } catch (err) {
      settlement = Promise.reject(err as Error);
    }
    if (!(settlement instanceof Promise)) return this.settle(msg, acks, deliveredAt, settlement);
    const job = settlement.then(
      (later) => this.settle(msg, acks, deliveredAt, later),
      (err: Error) => {
        acks.settle(msg.fields.deliveryTag, 'requeue');
        this.emit('error', err);
      },
    );
    this.inFlight.set(job, deliveredAt);
    void job.finally(() => this.inFlight.delete(job));
  }

  private settle(msg: ConsumeMessage, acks: AckBatcher, deliveredAt: number, settlement: Settlement): void {
    if (settlement !== 'abandon') acks.settle(msg.fields.deliveryTag, settlement);
    this.options.handled?.((performance.now() - deliveredAt) / 1000);
  }
}
