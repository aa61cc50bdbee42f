import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';
import type { ConsumeMessage } from 'amqplib';
import type { RejectionReason } from '../../contracts/index.js';
import type { BridgeEvent } from '../../contracts/index.js';
import type { Delivery, Dispatcher } from '../../consumers/dispatcher.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { KeyedLock } from '../state/keyed-lock.js';
import { andThen, type NowOrLater } from '../state/now-or-later.js';
import { FencedError, StoreUnavailableError, type Fence, type Lease } from '../state/stores.js';
import type { ConsumeConnection } from './consume-connection.js';
import { ConsumerSession, QueueConsumer, type Settlement } from './queue-consumer.js';
import { BROKER_DELIVERY_LIMIT, declareConsumed, type BridgeTopology } from './topology.js';

/** Pauses between the attempts at a valid event whose handler failed; one more attempt than pauses. */
export const HANDLER_RETRY_DELAYS_MS: readonly number[] = [100, 1000];

/**
 * Pauses while a shared store is unreachable: that is not the event's fault, so it waits (and its
 * stream behind it) instead of being dead-lettered.
 */
const WAIT_DELAYS_MS: readonly number[] = [50, 100, 250, 500, 1000];

/** The stream whose order an event belongs to: its trip, or the notifications. */
function laneOf(event: BridgeEvent): string {
  return 'tripId' in event.data ? `trip:${event.data.tripId}` : 'notifications';
}

/**
 * Earlier unacknowledged deliveries after which a message is dead-lettered without being handled
 * again (the process died on it each time, or connections kept dropping). Below the broker's limit,
 * so that the bridge, not the broker, dead-letters it, with its own headers.
 */
export const REDELIVERY_LIMIT = Math.min(5, BROKER_DELIVERY_LIMIT - 1);

/** `stopping`: shutdown; `fenced`: another consumer has the stream now. Both leave the message to the broker. */
type DeliveryResult = { kind: Delivery } | { kind: 'failed'; detail: string } | { kind: 'stopping' } | { kind: 'fenced' };

export interface EventConsumerOptions {
  connection: ConsumeConnection;
  topology: BridgeTopology;
  prefetch: number;
  dispatcher: Dispatcher;
  /** Keeps the streams to one writer: a lease is taken when the broker starts delivering to a channel. */
  fence: Fence;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Consumes the bridge queue. This is the one place that turns an outcome into ack, retry or dead
 * letter: bad input is dead-lettered at once, a failed handler is retried a bounded number of times
 * and then dead-lettered, a message redelivered too often is dead-lettered, and a message is
 * acknowledged only after its fan-out was handed out (to the streams, which hand it to every
 * instance) or the dead-letter queue confirmed its copy.
 *
 * Under a single active consumer, the broker delivers to one channel at a time. The first delivery
 * on a channel takes the writer's lease; a consumer that lost its channel (and whose messages went to
 * the next consumer) still holds an older lease, which every write refuses: it cannot number or hand
 * out anything more, however long its handlers run on.
 */
export class EventConsumer {
  private readonly consumer: QueueConsumer;
  private readonly log: Logger;
  private closed = false;
  /** Set when shutdown put an event back: every later one goes back too. */
  private halted = false;
  /** Runs the valid events of each lane one at a time, in delivery order. */
  private readonly lanes = new KeyedLock();
  /** The lease of each channel's deliveries, taken at its first delivery. */
  private readonly leases = new WeakMap<ConsumerSession, Promise<Lease>>();
  /** The same leases, once acquired: what lets an event be delivered at once. */
  private readonly acquired = new WeakMap<ConsumerSession, Lease>();

  constructor(private readonly options: EventConsumerOptions) {
    const { connection, topology, prefetch } = options;
    this.log = options.logger.child({ component: 'consumer' });
    // Handlers run as messages arrive, up to the prefetch count: rejected ones are dead-lettered in
    // parallel, valid ones go one at a time per trip, in order (see `lanes`).
    this.consumer = new QueueConsumer({
      connection,
      queue: topology.queue.queue,
      prefetch,
      declare: (ch) => declareConsumed(ch, topology),
      handler: (msg, session) => this.handle(msg, session),
      handled: (seconds) => this.options.metrics.handlerDuration.observe(seconds),
    });
    this.consumer.on('error', (err) => {
      this.log.warn({ event: 'consumer.error', err: { message: err?.message, code: err?.code } }, 'consumer error');
    });
    this.consumer.on('ready', () => this.log.info({ event: 'consumer.ready', queue: topology.queue.queue }, 'consuming'));
  }

  /**
   * Resolves once the topology is declared (the dead-letter queue first) and the broker delivers to
   * this consumer: before that, the queue may not exist or be bound yet, and events published in the
   * meantime would be unroutable.
   */
  async start(timeoutMs = 10_000): Promise<void> {
    // `once` also rejects on 'error' (a refused declaration, say), which fails start-up.
    const ready = once(this.consumer, 'ready', { signal: AbortSignal.timeout(timeoutMs) });
    this.consumer.start();
    await ready;
  }

  /** Seconds since the oldest message still being handled was delivered (0 when none is). */
  oldestInFlightSeconds(): number {
    return this.consumer.oldestInFlightSeconds();
  }

  /** Stops taking messages and waits for the ones in flight to be acknowledged. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer.close();
  }

  /**
   * What becomes of one delivery. A valid event whose lane is free, on a channel whose lease is
   * acquired, with the streams in memory, is handled at once: the settlement comes back without a
   * promise.
   */
  private handle(msg: ConsumeMessage, session: ConsumerSession): NowOrLater<Settlement> {
    const { metrics, dispatcher } = this.options;
    metrics.consumed.inc();
    // Quorum queues count the earlier deliveries that ended without an ack.
    const earlierDeliveries = Number(msg.properties.headers?.['x-delivery-count'] ?? 0);
    if (earlierDeliveries >= REDELIVERY_LIMIT) {
      return this.deadLetter(msg, 'handler_failed', `delivered ${earlierDeliveries + 1} times without an acknowledgement`);
    }
    const decoded = dispatcher.decode(msg.content);
    // Rejected messages need no order: their dead-lettering overlaps with everything else.
    if (!decoded.ok) return this.deadLetter(msg, decoded.reason, decoded.detail);
    const { event } = decoded;
    // Joined synchronously: handlers start in delivery order, so each lane keeps the queue's order.
    const result = this.lanes.run(laneOf(event), () => this.deliver(msg, event, session));
    return andThen(result, (outcome) => this.settlementOf(msg, event, outcome));
  }

  private settlementOf(msg: ConsumeMessage, event: BridgeEvent, result: DeliveryResult): NowOrLater<Settlement> {
    switch (result.kind) {
      case 'delivered':
        this.options.metrics.deliveredOf(event.type).inc();
        return 'ack';
      case 'duplicate':
        this.options.metrics.duplicates.inc();
        this.log.debug({ event: 'consumer.duplicate', eventId: event.id }, 'duplicate acknowledged');
        return 'ack';
      case 'failed':
        return this.deadLetter(msg, 'handler_failed', result.detail);
      case 'stopping':
      case 'fenced':
        // Left to the next consumer (closing the channel returns it), rather than dead-lettered half-way.
        return 'abandon';
    }
  }

  /** The first attempt, at once when the lease is known; a failure, or a lease still to acquire, goes on with retries. */
  private deliver(msg: ConsumeMessage, event: BridgeEvent, session: ConsumerSession): NowOrLater<DeliveryResult> {
    const lease = this.acquired.get(session);
    if (lease === undefined || this.halted || session.closed) return this.deliverWithRetries(msg, event, session);
    let delivery: NowOrLater<Delivery>;
    try {
      delivery = this.options.dispatcher.deliver(event, lease);
    } catch (err) {
      return this.deliverWithRetries(msg, event, session, { err });
    }
    if (!(delivery instanceof Promise)) return { kind: delivery };
    return delivery.then(
      (kind) => ({ kind }),
      (err: unknown) => this.deliverWithRetries(msg, event, session, { err }),
    );
  }

  /**
   * Retries a failing handler here, in order, instead of requeueing through the broker: a requeued
   * message would come back behind the ones already prefetched, after later events of its trip.
   * `failed`: how the first attempt, made by `deliver`, ended.
   */
  private async deliverWithRetries(
    msg: ConsumeMessage,
    event: BridgeEvent,
    session: ConsumerSession,
    failed?: { err: unknown },
  ): Promise<DeliveryResult> {
    let waits = 0;
    let failure = failed;
    for (let attempt = 0; ; failure = undefined) {
      if (!failure) {
        // Once one event was put back for shutdown, the ones behind it go back too, keeping their order;
        // a closed channel's messages are being redelivered to the next consumer already.
        if (this.halted) return { kind: 'stopping' };
        if (session.closed) return { kind: 'fenced' };
        try {
          return { kind: await this.options.dispatcher.deliver(event, await this.leaseOf(session)) };
        } catch (err) {
          failure = { err };
        }
      }
      const { err } = failure;
      if (err instanceof FencedError) {
        this.fenced(session, event, err);
        return { kind: 'fenced' };
      }
      const detail = err instanceof Error ? err.message : String(err);
      const waiting = err instanceof StoreUnavailableError;
      const delay = waiting ? WAIT_DELAYS_MS[Math.min(waits++, WAIT_DELAYS_MS.length - 1)] : HANDLER_RETRY_DELAYS_MS[attempt++];
      if (delay === undefined) return { kind: 'failed', detail };
      if (this.closed) {
        this.halted = true;
        return { kind: 'stopping' };
      }
      if (waiting) {
        this.options.metrics.handlerWaits.inc();
        if (waits === 1) this.log.warn({ event: 'consumer.waiting', eventId: event.id, detail }, 'event waits: store unavailable');
      } else {
        this.options.metrics.handlerRetries.inc();
        this.log.warn(
          { event: 'consumer.retry', eventId: event.id, messageId: msg.properties.messageId as unknown, attempt, detail },
          'handler failed; retrying',
        );
      }
      await setTimeout(delay);
    }
  }

  /** The channel's lease, acquired at its first delivery; a failed acquisition is tried again by the next attempt. */
  private leaseOf(session: ConsumerSession): Promise<Lease> {
    let lease = this.leases.get(session);
    if (!lease) {
      lease = this.options.fence.acquire();
      this.leases.set(session, lease);
      lease.then(
        (acquired) => {
          this.acquired.set(session, acquired);
          this.options.metrics.leases.inc();
          this.log.info({ event: 'consumer.lease_acquired', session: session.id }, 'this instance writes the streams now');
        },
        () => this.leases.delete(session),
      );
    }
    return lease;
  }

  /** The lease was taken over: the channel's messages are another consumer's; consume again on a new channel. */
  private fenced(session: ConsumerSession, event: BridgeEvent, err: FencedError): void {
    if (session.closed) return;
    this.options.metrics.fenced.inc();
    this.log.warn({ event: 'consumer.fenced', eventId: event.id, session: session.id, detail: err.message }, 'lease taken over');
    this.consumer.recycle(session);
  }

  /**
   * Copies the message, its bytes as published, to the dead-letter queue with its reason; once the
   * broker confirmed, it is acknowledged. The copy travels on the consuming connection: if that is
   * down, the message is not acknowledged either.
   */
  private async deadLetter(msg: ConsumeMessage, reason: RejectionReason, detail: string): Promise<'ack'> {
    const { properties, fields } = msg;
    await this.options.connection.sendConfirmed(this.options.topology.deadLetterQueue.queue, msg.content, {
      persistent: true,
      contentType: properties.contentType as string | undefined,
      contentEncoding: properties.contentEncoding as string | undefined,
      messageId: properties.messageId as string | undefined,
      timestamp: properties.timestamp as number | undefined,
      headers: {
        ...properties.headers,
        'x-rejection-reason': reason,
        'x-rejection-detail': detail,
        'x-original-exchange': fields.exchange,
        'x-original-routing-key': fields.routingKey,
      },
    });
    this.options.metrics.deadLettered.inc({ reason });
    this.log.warn(
      { event: 'consumer.dead_lettered', reason, detail, messageId: properties.messageId as unknown, routingKey: fields.routingKey },
      'message moved to the dead-letter queue',
    );
    return 'ack';
  }
}
