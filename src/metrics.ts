import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerCounts } from './realtime/socket-directory.js';

/** Sums a counter's values across its labels (what `/stats` and the ops page report). */
export async function total(counter: Counter): Promise<number> {
  const { values } = await counter.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** All of one instance's Prometheus metrics, in a registry of its own (no global state). */
export class Metrics {
  readonly registry = new Registry();
  readonly consumed = new Counter({
    name: 'bridge_events_consumed_total',
    help: 'Messages received from the bridge queue',
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'bridge_events_delivered_total',
    help: 'Events handed to Socket.IO',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  private readonly deliveredByType = new Map<string, Counter.Internal>();
  /** The delivered counter of one event type, bound once per type: inc({ type }) would hash the labels per event. */
  deliveredOf(type: string): Counter.Internal {
    let child = this.deliveredByType.get(type);
    if (!child) this.deliveredByType.set(type, (child = this.delivered.labels(type)));
    return child;
  }
  readonly duplicates = new Counter({
    name: 'bridge_events_duplicate_total',
    help: 'Messages acknowledged without delivery because their id was seen within the window',
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: 'bridge_events_dead_lettered_total',
    help: 'Messages moved to the dead-letter queue',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly handlerRetries = new Counter({
    name: 'bridge_events_retried_total',
    help: 'Retries of valid events whose handler failed',
    registers: [this.registry],
  });
  readonly handlerWaits = new Counter({
    name: 'bridge_events_waits_total',
    help: 'Pauses of valid events while a shared store was unreachable',
    registers: [this.registry],
  });
  readonly leases = new Counter({
    name: 'bridge_consumer_leases_total',
    help: 'Writer leases this instance acquired: each time the broker started delivering the queue to it',
    registers: [this.registry],
  });
  readonly fenced = new Counter({
    name: 'bridge_consumer_fenced_total',
    help: 'Channels given up because their lease was taken over (another consumer, or Redis lost the lease)',
    registers: [this.registry],
  });
  readonly feedCatchUps = new Counter({
    name: 'bridge_feed_catchups_total',
    help: 'Rooms of this instance that missed entries and caught up from history (recovered) or could not (lost)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'bridge_events_published_total',
    help: 'Events this instance published to the exchange, confirmed by the broker',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly brokerReconnects = new Counter({
    name: 'bridge_broker_reconnects_total',
    help: 'AMQP connections re-established after a loss',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });
  readonly deliveryLag = new Histogram({
    name: 'bridge_delivery_lag_seconds',
    help: "From an event's time (its publisher's clock) to this instance handing it to Socket.IO, by stream kind",
    labelNames: ['stream'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  /** Bound once: labels() per observation would hash the label set on the hot path. */
  readonly lagOf = {
    trip: this.deliveryLag.labels('trip'),
    user: this.deliveryLag.labels('user'),
    broadcast: this.deliveryLag.labels('broadcast'),
  };
  readonly handlerDuration = new Histogram({
    name: 'bridge_handler_duration_seconds',
    help: 'From a message being delivered to this instance to its outcome (handed out, duplicate, dead-lettered)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly connectionDuration = new Histogram({
    name: 'bridge_connection_duration_seconds',
    help: 'How long sockets stayed connected, observed when they disconnect',
    buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600],
    registers: [this.registry],
  });
  readonly slowConsumers = new Counter({
    name: 'bridge_slow_consumer_disconnects_total',
    help: 'Sockets disconnected because more than MAX_PENDING_BYTES_PER_SOCKET (or the packet limit) waited for them',
    registers: [this.registry],
  });
  readonly handshakeRefusals = new Counter({
    name: 'bridge_handshake_refusals_total',
    help: 'Socket.IO handshakes refused, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly clientErrors = new Counter({
    name: 'bridge_client_errors_total',
    help: 'Client events answered with an error, by event and code',
    labelNames: ['event', 'code'] as const,
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'bridge_audit_events_total',
    help: 'Audit trail entries: refused handshakes, forbidden requests, rate-limit hits and admin actions',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'bridge_rate_limited_total',
    help: 'Client events, handshakes and HTTP requests refused by a rate limit or the socket cap, by limiter',
    labelNames: ['limiter'] as const,
    registers: [this.registry],
  });
  readonly socketsExpired = new Counter({
    name: 'bridge_sockets_expired_total',
    help: 'Sockets disconnected because their token expired',
    registers: [this.registry],
  });

  /** Read on scrape: the consumer's oldest message in flight (set once the consumer exists). */
  oldestInFlightSeconds: () => number = () => 0;
  /** Read on scrape: whether the broker connection is up (set once the broker exists). */
  brokerConnected: () => boolean = () => false;

  constructor(connectedSockets: () => number) {
    const oldest = () => this.oldestInFlightSeconds();
    new Gauge({
      name: 'bridge_oldest_unacked_seconds',
      help: 'Age of the oldest message delivered to this instance and not yet handled (acknowledged within 20 ms after)',
      registers: [this.registry],
      collect() {
        this.set(oldest());
      },
    });
    const brokerUp = () => this.brokerConnected();
    new Gauge({
      name: 'bridge_broker_connected',
      help: 'Whether this instance is connected to RabbitMQ (1) or not (0)',
      registers: [this.registry],
      collect() {
        this.set(brokerUp() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'bridge_connected_sockets',
      help: 'Sockets connected to this instance',
      registers: [this.registry],
      collect() {
        this.set(connectedSockets());
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Adds `bridge_redis_connected`, read on scrape; only a bridge that runs with Redis has the metric. */
  watchRedis(connected: () => boolean): void {
    new Gauge({
      name: 'bridge_redis_connected',
      help: 'Whether this instance reaches Redis (1) or not (0); absent when REDIS_URL is unset',
      registers: [this.registry],
      collect() {
        this.set(connected() ? 1 : 0);
      },
    });
  }

  /** The broker counters `/stats` reports. */
  async brokerCounts(): Promise<BrokerCounts> {
    return {
      consumed: await total(this.consumed),
      delivered: await total(this.delivered as Counter),
      deadLettered: await total(this.deadLettered as Counter),
      duplicates: await total(this.duplicates),
    };
  }
}
