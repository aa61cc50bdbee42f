import { z } from 'zod';
import { Identifier, JsonObject, Timestamp } from './common.js';
import { Notification } from './notification.js';

/** Largest message body the bridge accepts from the queue; larger ones are dead-lettered `too_large`. */
export const MAX_EVENT_BYTES = 256 * 1024;

/**
 * Deepest nesting of arrays and objects a message body may have; deeper ones are dead-lettered
 * `too_large`, since writing them out again (history, sockets) would exhaust the call stack.
 */
export const MAX_EVENT_DEPTH = 512;

/** Most recipients one `notification.created` may name in `userIds`. */
export const MAX_NOTIFICATION_RECIPIENTS = 1000;

/** `data` of every event that goes to a trip room, keyed by the event `type` (= routing key). */
export const tripEventData = {
  'trip.created': z.object({ tripId: Identifier, trip: JsonObject, actorId: Identifier.optional() }),
  'trip.updated': z.object({ tripId: Identifier, changes: JsonObject, updatedBy: Identifier.optional() }),
  'trip.deleted': z.object({ tripId: Identifier, actorId: Identifier.optional() }),
  'trip.member.added': z.object({ tripId: Identifier, userId: Identifier, actorId: Identifier.optional() }),
  'trip.member.removed': z.object({ tripId: Identifier, userId: Identifier, actorId: Identifier.optional() }),
  'trip.activity': z.object({
    tripId: Identifier,
    kind: z.string().min(1).max(64),
    payload: JsonObject,
    actorId: Identifier.optional(),
  }),
} as const;

/** `data` of every event that goes to users, keyed by the event `type`. */
export const notificationEventData = {
  'notification.created': z
    .object({
      userId: Identifier.optional(),
      userIds: z.array(Identifier).max(MAX_NOTIFICATION_RECIPIENTS).optional(),
      notification: Notification,
    })
    .refine((d) => d.userId !== undefined || (d.userIds?.length ?? 0) > 0, {
      message: 'userId or a non-empty userIds is required',
      path: ['userIds'],
    })
    // JSON Schema cannot carry the refinement: the generated documents say it in words.
    .describe('Names its recipients: userId, or a non-empty userIds, or both.'),
  'notification.broadcast': z.object({ notification: Notification }),
} as const;

/** Every event type the bridge consumes, with the schema of its `data`. */
export const eventDataSchemas = { ...tripEventData, ...notificationEventData } as const;

/** What the bridge itself publishes upstream when a client sends `trip:update`; it never consumes it. */
export const upstreamEventData = {
  'client.trip.update': z.object({ tripId: Identifier, changes: JsonObject, userId: Identifier }),
} as const;

/** The CloudEvents `source` of what the bridge publishes upstream. */
export const BRIDGE_SOURCE = 'realtime-bridge';

/** Every event type a publisher may send through the exchange. */
export const publishableEventData = { ...eventDataSchemas, ...upstreamEventData } as const;

export type TripEventType = keyof typeof tripEventData;
export type NotificationEventType = keyof typeof notificationEventData;
export type EventType = keyof typeof eventDataSchemas;
export type PublishableEventType = keyof typeof publishableEventData;
export type EventData<T extends PublishableEventType> = z.infer<(typeof publishableEventData)[T]>;

export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];

/** True for the types the bridge consumes (a type guard over an untrusted string). */
export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventDataSchemas, type);
}

/** The CloudEvents 1.0 structured-mode envelope; `data` is checked per type afterwards. */
export const CloudEventEnvelope = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(128),
  source: z.string().min(1).max(256),
  type: z.string().min(1).max(128),
  time: Timestamp.optional(),
  datacontenttype: z.string().optional(),
  // Optional in CloudEvents; every type we consume requires it, so its absence is `invalid_data`.
  data: z.unknown().optional(),
});

export type CloudEventEnvelope = z.infer<typeof CloudEventEnvelope>;

/** A consumed event after its envelope and data were validated: a union discriminated by `type`. */
export type BridgeEvent = {
  [T in EventType]: Omit<CloudEventEnvelope, 'type' | 'data'> & { type: T; data: EventData<T> };
}[EventType];

export type TripEvent = Extract<BridgeEvent, { type: TripEventType }>;
export type NotificationEvent = Extract<BridgeEvent, { type: NotificationEventType }>;
