import { z } from 'zod';
import { Timestamp } from './common.js';

/** Most rooms one snapshot lists (the largest first); `rooms.total` counts them all. */
export const OPS_ROOM_LIMIT = 20;

/** A counter of this instance: its value, and its rate over the snapshot's interval. */
export const OpsRate = z.object({
  total: z.number().nonnegative(),
  perSecond: z.number().nonnegative(),
});

/**
 * What `GET /api/v1/socket/ops/snapshot` answers and `GET /api/v1/socket/ops/stream` pushes every
 * second (SSE event `snapshot`). Sockets and rooms are summed over every instance; counters, rates,
 * lag and the process figures are this instance's.
 */
export const OpsSnapshot = z.object({
  time: Timestamp,
  /** Seconds the rates and lag quantiles cover: since the previous snapshot of the same stream (or reader). */
  intervalSeconds: z.number().nonnegative(),
  instance: z.object({
    hostname: z.string(),
    pid: z.number().int().positive(),
    nodeVersion: z.string(),
    uptimeSeconds: z.number().nonnegative(),
    memory: z.object({
      rssBytes: z.number().nonnegative(),
      heapUsedBytes: z.number().nonnegative(),
      heapTotalBytes: z.number().nonnegative(),
    }),
    /** Event-loop delay over the last second or so (perf_hooks); null before the first measurement. */
    eventLoopDelayMs: z.object({ p50: z.number().nonnegative(), p99: z.number().nonnegative(), max: z.number().nonnegative() }).nullable(),
  }),
  broker: z.object({ connected: z.boolean() }),
  /** `connected` is null when the bridge runs without Redis (REDIS_URL unset). */
  redis: z.object({ configured: z.boolean(), connected: z.boolean().nullable() }),
  connections: z.number().int().nonnegative(),
  users: z.number().int().nonnegative(),
  rooms: z.object({
    total: z.number().int().nonnegative(),
    /** The largest `trip:` and `user:` rooms, by sockets across all instances, at most OPS_ROOM_LIMIT. */
    largest: z.array(z.object({ name: z.string(), members: z.number().int().nonnegative() })).max(OPS_ROOM_LIMIT),
  }),
  events: z.object({
    consumed: OpsRate,
    /** `bridge_events_delivered_total` by event type. */
    delivered: z.array(OpsRate.extend({ type: z.string() })),
    duplicates: OpsRate,
    /** `bridge_events_dead_lettered_total` by `x-rejection-reason`. */
    deadLettered: z.array(OpsRate.extend({ reason: z.string() })),
  }),
  /** `bridge_delivery_lag_seconds` (all stream kinds) over the interval, interpolated as histogram_quantile does. */
  lag: z.object({
    observations: z.number().int().nonnegative(),
    p50Seconds: z.number().nonnegative().nullable(),
    p99Seconds: z.number().nonnegative().nullable(),
  }),
  /** Messages waiting in `<AMQP_QUEUE>.dead-letter`; null when the broker could not say. */
  deadLetterQueue: z.object({ queue: z.string(), messages: z.number().int().nonnegative().nullable() }),
});

export type OpsRate = z.infer<typeof OpsRate>;
export type OpsSnapshot = z.infer<typeof OpsSnapshot>;
