import { EventEmitter } from 'node:events';
import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client';

/** What becomes of a handled message: acknowledged, or put back in its queue. */
export type Settlement = 'ack' | 'requeue';

/** Back-off between attempts to set the channel up again, doubling from the first to the last. */
const RETRY_MS = { first: 100, last: 5_000 } as const;

/**
 * Acknowledges a channel's deliveries in batches: one `basic.ack` with `multiple` for the longest
 * run of settled deliveries, sent once per turn of the event loop instead of one frame per message.
 * An acknowledgement is only ever delayed, never sent early: a delivery whose handler has not
 * finished holds back the ones behind it.
 */
export class AckBatcher {
  /** Every delivery tag up to this one is settled on the broker. */
  private floor = 0;
  /** Tags above the floor already handled: true to acknowledge, false if already put back. */
  private readonly settled = new Map<number, boolean>();
  private flushScheduled = false;

  constructor(private readonly ch: Channel) {}

  settle(tag: number, settlement: Settlement): void {
    if (settlement === 'requeue') {
      // Sent at once, before any acknowledgement that covers it, so that it is never acknowledged.
      if (this.ch.active) this.ch.basicNack({ deliveryTag: tag, requeue: true });
      this.settled.set(tag, false);
    } else {
      this.settled.set(tag, true);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Acknowledges the settled run above the floor, up to its last delivery that needs it. */
  flush(): void {
    this.flushScheduled = false;
    let last = 0;
    for (let next = this.floor + 1; this.settled.has(next); next++) {
      if (this.settled.get(next)) last = next;
      this.settled.delete(next);
      this.floor = next;
    }
    // On a closed channel the broker already put every unacknowledged delivery back.
    if (last > 0 && this.ch.active) this.ch.basicAck({ deliveryTag: last, multiple: true });
  }
}

export interface QueueConsumerOptions {
  connection: Connection;
  queue: string;
  prefetch: number;
  /** Declares what consuming needs (queues, exchanges, bindings) on every new channel. */
  declare: (ch: Channel) => Promise<void>;
  /** Must not throw for a message it could handle; a throw puts the message back and emits 'error'. */
  handler: (msg: AsyncMessage) => Promise<Settlement>;
}

/**
 * Consumes one queue over its own channel, sets the channel up again after every loss (connection
 * drop, channel error, queue deleted) with capped back-off, and acknowledges in batches. Handlers
 * run as messages arrive: the prefetch count bounds how many are in flight.
 *
 * rabbitmq-client's own Consumer acknowledges message by message, one socket write each; in the
 * drain benchmark that was an eighth of the bridge's CPU.
 */
export class QueueConsumer extends EventEmitter<{ ready: []; error: [Error & { code?: string }] }> {
  private ch: Channel | undefined;
  private acks: AckBatcher | undefined;
  private consumerTag = '';
  private readonly inFlight = new Set<Promise<void>>();
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
    this.connect();
  }

  /**
   * Stops taking messages, lets the handlers in flight finish, acknowledges them and closes the
   * channel. Messages that arrive meanwhile are put back. Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    clearTimeout(this.retryTimer);
    await this.setup;
    const { ch } = this;
    if (ch?.active && this.consumerTag) await ch.basicCancel({ consumerTag: this.consumerTag }).catch(() => undefined);
    await Promise.allSettled(this.inFlight);
    this.acks?.flush();
    await ch?.close().catch(() => undefined);
    this.state = 'closed';
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
    // Messages of the lost channel are being redelivered already; their handlers finish first, as
    // rabbitmq-client's Consumer does, so that one message never runs twice at once here.
    await Promise.allSettled(this.inFlight);
    if (this.state !== 'running') return;
    const { connection, queue, prefetch, declare } = this.options;
    if (!this.ch?.active) {
      const ch = await connection.acquire({ emitErrorsFromChannel: true });
      ch.on('error', (err: Error) => this.emit('error', err));
      ch.once('close', () => {
        this.consumerTag = '';
        if (this.state === 'running') this.scheduleReconnect();
      });
      // The server cancels the consumer when its queue is deleted; a new channel declares it again.
      ch.on('basic.cancel', () => {
        if (this.state === 'running') ch.close().catch(() => undefined);
      });
      this.ch = ch;
      this.acks = new AckBatcher(ch);
    }
    const { ch } = this;
    const acks = this.acks!;
    await declare(ch);
    await ch.basicQos({ prefetchCount: prefetch });
    const { consumerTag } = await ch.basicConsume({ queue }, (msg) => this.run(msg, acks));
    this.consumerTag = consumerTag;
  }

  private run(msg: AsyncMessage, acks: AckBatcher): void {
    if (this.state !== 'running') {
      acks.settle(msg.deliveryTag, 'requeue');
      return;
    }
    const job = this.options.handler(msg).then(
      (settlement) => acks.settle(msg.deliveryTag, settlement),
      (err: Error) => {
        acks.settle(msg.deliveryTag, 'requeue');
        this.emit('error', err);
      },
    );
    this.inFlight.add(job);
    void job.finally(() => this.inFlight.delete(job));
  }
}
