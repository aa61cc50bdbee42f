import { z } from 'zod';
import { Identifier, JsonObject } from './common.js';
import { ErrorBody } from './errors.js';
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
