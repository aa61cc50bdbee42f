import { z } from 'zod';
import { Identifier, JsonObject, Timestamp } from './common.js';
import { ErrorBody, RejectionReason } from './errors.js';
import { Notification, NotificationType } from './notification.js';

export const TestNotificationBody = z.object({
  userId: Identifier.optional(),
  type: NotificationType.default('info'),
  title: Notification.shape.title,
  message: Notification.shape.message,
  data: JsonObject.optional(),
});

export const TestTripUpdateBody = z.object({ tripId: Identifier, changes: JsonObject });

export const BroadcastBody = TestNotificationBody.omit({ userId: true });

/** Every failed HTTP answer. */
export const ErrorResponse = z.object({ success: z.literal(false), error: ErrorBody });

export type TestNotificationBody = z.infer<typeof TestNotificationBody>;
export type TestTripUpdateBody = z.infer<typeof TestTripUpdateBody>;
export type BroadcastBody = z.infer<typeof BroadcastBody>;

/** `GET /dead-letters?limit=`: how many to show (the queue is left as it is). */
export const DeadLetterListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });

/** `POST /dead-letters/replay`: how many of the oldest dead letters to publish back to the exchange. */
export const DeadLetterReplayBody = z.object({ limit: z.number().int().min(1).max(1000).default(100) });

// ── answers ─────────────────────────────────────────────────────────────────

/** Every successful HTTP answer: `{ success: true, data }`. */
export const SuccessResponse = <T extends z.ZodType>(data: T) => z.object({ success: z.literal(true), data });

const Count = z.number().int().min(0);

/** `GET /health`: `status` is `degraded` (HTTP 503) while the broker, or Redis when configured, is unreachable. */
export const HealthData = z.object({
  status: z.enum(['ok', 'degraded']),
  broker: z.enum(['connected', 'disconnected']),
  /** Present when the bridge runs with REDIS_URL. */
  redis: z.enum(['connected', 'disconnected']).optional(),
  /** This instance's sockets. */
  connections: Count,
  uptimeSeconds: Count,
});

/** The 503 of `GET /health`: the data beside the error. */
export const DegradedHealthResponse = z.object({ success: z.literal(false), data: HealthData, error: ErrorBody });

/** The broker counters, summed over every instance. */
export const BrokerCounts = z.object({ consumed: Count, delivered: Count, deadLettered: Count, duplicates: Count });

/** `GET /stats`. */
export const StatsData = z.object({
  connections: Count,
  users: Count,
  rooms: Count,
  uptimeSeconds: Count,
  broker: BrokerCounts.extend({ connected: z.boolean() }),
});

/** One `trip:` or `user:` room of `GET /rooms`; `members` counts sockets across all instances. */
export const RoomInfo = z.object({ name: z.string(), members: Count });

/** One of the caller's sockets, in `GET /my-connections`. */
export const ConnectionInfo = z.object({
  socketId: z.string(),
  connectedAt: Timestamp,
  transport: z.string(),
  rooms: z.array(z.string()),
});

/** The 202 of the test endpoints: the id of the event the broker confirmed. */
export const EventAccepted = z.object({ eventId: z.string() });

/** One dead letter as `GET /dead-letters` shows it (its body cut at 2 KiB). */
export const DeadLetter = z.object({
  messageId: z.string().optional(),
  /** `x-rejection-reason`; absent on a message the broker dead-lettered by itself. */
  reason: z.union([RejectionReason, z.string()]).optional(),
  /** `x-rejection-detail`. */
  detail: z.string().optional(),
  /** Where it was published before it was dead-lettered: a replay publishes it there again. */
  routingKey: z.string(),
  exchange: z.string().optional(),
  contentType: z.string().optional(),
  /** When it was first published (seconds since the epoch), as the publisher stamped it. */
  timestamp: z.number().optional(),
  size: Count,
  body: z.string(),
  bodyTruncated: z.boolean(),
});

/** `GET /dead-letters`: the oldest dead letters, left in the queue, and how many there are. */
export const DeadLetterList = z.object({ queue: z.string(), total: Count, messages: z.array(DeadLetter) });

/** `POST /dead-letters/replay`: what the replay did with the dead letters it took. */
export const ReplayOutcome = z.object({
  /** Published, confirmed, and gone from the dead-letter queue. */
  replayed: Count,
  /** Returned by the broker (no queue is bound to its routing key): left in the dead-letter queue. */
  unroutable: Count,
  /** Left in the dead-letter queue, the unroutable ones included. */
  remaining: Count,
});

export type HealthData = z.infer<typeof HealthData>;
export type BrokerCounts = z.infer<typeof BrokerCounts>;
export type StatsData = z.infer<typeof StatsData>;
export type RoomInfo = z.infer<typeof RoomInfo>;
export type ConnectionInfo = z.infer<typeof ConnectionInfo>;
export type DeadLetter = z.infer<typeof DeadLetter>;
export type ReplayOutcome = z.infer<typeof ReplayOutcome>;
