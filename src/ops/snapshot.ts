import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { OPS_ROOM_LIMIT, type OpsRate, type OpsSnapshot } from '../../contracts/index.js';
import type { DeadLetters } from '../broker/dead-letters.js';
import { total } from '../metrics.js';
import type { SocketDirectory } from '../realtime/socket-directory.js';
import type { OpsMetrics, OpsMonitor } from './monitor.js';
import { bucketIncrease, histogramQuantile, increase, perSecond, type Bucket } from './rates.js';

/** Where a snapshot's figures come from, besides the monitor's metrics. */
export interface SnapshotSources {
  monitor: OpsMonitor;
  sockets: Pick<SocketDirectory, 'summary'>;
  brokerConnected(): boolean;
  redisConnected?: (() => boolean) | undefined;
  uptimeSeconds(): number;
  /** Messages waiting in the dead-letter queue, or null when the broker cannot say. */
  deadLetterCount(): Promise<number | null>;
  deadLetterQueue: string;
}

/** The counters a snapshot differentiates, read at one moment (`at`: performance.now()). */
export interface Reading {
  at: number;
  consumed: number;
  delivered: Map<string, number>;
  duplicates: number;
  deadLettered: Map<string, number>;
  /** Delivery lag, cumulative buckets summed over the `stream` label. */
  lag: Bucket[];
}

async function byLabel(counter: OpsMetrics['delivered'] | OpsMetrics['deadLettered'], label: 'type' | 'reason'): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const { labels, value } of (await counter.get()).values) {
    const key = String((labels as Record<string, unknown>)[label] ?? '');
    totals.set(key, (totals.get(key) ?? 0) + value);
  }
  return totals;
}

async function lagBuckets(histogram: OpsMetrics['deliveryLag']): Promise<Bucket[]> {
  const counts = new Map<number, number>();
  for (const { metricName, labels, value } of (await histogram.get()).values) {
    if (!metricName?.endsWith('_bucket')) continue;
    // prom-client labels the bucket bounds `le` (a number, or '+Inf'), beside the declared labels.
    const bound = (labels as Record<string, unknown>).le;
    const le = bound === '+Inf' ? Infinity : Number(bound);
    counts.set(le, (counts.get(le) ?? 0) + value);
  }
  return [...counts].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** Reads the counters from the metrics objects (never by parsing the `/metrics` text). */
export async function readCounters(metrics: OpsMetrics, at = performance.now()): Promise<Reading> {
  return {
    at,
    consumed: await total(metrics.consumed),
    delivered: await byLabel(metrics.delivered, 'type'),
    duplicates: await total(metrics.duplicates),
    deadLettered: await byLabel(metrics.deadLettered, 'reason'),
    lag: await lagBuckets(metrics.deliveryLag),
  };
}

const rate = (before: number, now: number, seconds: number): OpsRate => ({ total: now, perSecond: perSecond(increase(before, now), seconds) });

function ratesByLabel<K extends 'type' | 'reason'>(key: K, before: Map<string, number>, now: Map<string, number>, seconds: number) {
  return [...now]
    .map(([name, total]) => ({ [key]: name, ...rate(before.get(name) ?? 0, total, seconds) }) as OpsRate & Record<K, string>)
    .sort((a, b) => b.perSecond - a.perSecond || b.total - a.total || a[key].localeCompare(b[key]));
}

/** The `events` and `lag` parts of a snapshot: what happened between two readings. */
export function rates(previous: Reading, current: Reading): Pick<OpsSnapshot, 'events' | 'lag' | 'intervalSeconds'> {
  const seconds = Math.max(0, (current.at - previous.at) / 1000);
  const lag = bucketIncrease(previous.lag, current.lag);
  const observations = lag.at(-1)?.count ?? 0;
  return {
    intervalSeconds: seconds,
    events: {
      consumed: rate(previous.consumed, current.consumed, seconds),
      delivered: ratesByLabel('type', previous.delivered, current.delivered, seconds),
      duplicates: rate(previous.duplicates, current.duplicates, seconds),
      deadLettered: ratesByLabel('reason', previous.deadLettered, current.deadLettered, seconds),
    },
    lag: {
      observations,
      p50Seconds: observations > 0 ? histogramQuantile(0.5, lag) : null,
      p99Seconds: observations > 0 ? histogramQuantile(0.99, lag) : null,
    },
  };
}

/**
 * Successive snapshots of one reader (a stream, or the snapshot route): each one's rates and lag
 * quantiles cover the time since the previous one; the first one's, the time since the counters
 * started (the monitor's creation).
 */
export class OpsSampler {
  private previous: Reading;

  constructor(private readonly sources: SnapshotSources) {
    this.previous = { at: sources.monitor.createdAt, consumed: 0, delivered: new Map(), duplicates: 0, deadLettered: new Map(), lag: [] };
  }

  /** The next snapshot (one computation: its counters, the cluster summary and the dead-letter count). */
  async next(): Promise<OpsSnapshot> {
    const { sources } = this;
    const [current, summary, deadLetters] = await Promise.all([
      readCounters(sources.monitor.metrics),
      sources.sockets.summary(),
      sources.deadLetterCount(),
    ]);
    const previous = this.previous;
    if (current.at > previous.at) this.previous = current;
    const memory = process.memoryUsage();
    const redis = sources.redisConnected?.();
    const largest = [...summary.rooms].sort((a, b) => b.members - a.members || a.name.localeCompare(b.name)).slice(0, OPS_ROOM_LIMIT);
    return {
      time: new Date().toISOString(),
      ...rates(previous, current),
      instance: {
        hostname: hostname(),
        pid: process.pid,
        nodeVersion: process.version,
        uptimeSeconds: sources.uptimeSeconds(),
        memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal },
        eventLoopDelayMs: sources.monitor.eventLoopDelayMs(),
      },
      broker: { connected: sources.brokerConnected() },
      redis: { configured: redis !== undefined, connected: redis ?? null },
      connections: summary.connections,
      users: summary.rooms.filter((r) => r.name.startsWith('user:')).length,
      rooms: { total: summary.rooms.length, largest },
      deadLetterQueue: { queue: sources.deadLetterQueue, messages: deadLetters },
    };
  }
}

/** Most time a snapshot waits for the broker to count the dead letters. */
const COUNT_TIMEOUT_MS = 1000;

/**
 * The dead-letter queue's length for snapshots, asked of the broker at most once per `maxAgeMs`
 * however many streams want it (each count opens a channel), and null while the broker is down.
 */
export function deadLetterCounter(deadLetters: Pick<DeadLetters, 'list'>, brokerConnected: () => boolean, maxAgeMs = 500) {
  let last: { at: number; value: Promise<number | null> } | undefined;
  const ask = async (): Promise<number | null> => {
    if (!brokerConnected()) return null;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), COUNT_TIMEOUT_MS)));
    try {
      // A limit of 0 only declares the queue (passively known) and takes nothing from it.
      return await Promise.race([deadLetters.list(0).then((r) => r.total), timeout]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  };
  return (): Promise<number | null> => {
    const now = performance.now();
    if (!last || now - last.at >= maxAgeMs) last = { at: now, value: ask() };
    return last.value;
  };
}
