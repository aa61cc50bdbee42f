import { z } from 'zod';
import { Identifier, JsonObject, StreamPosition, Timestamp } from './common.js';
import { ErrorBody, ErrorCode, HandshakeErrorCode } from './errors.js';
import { tripEventData, type TripEventType } from './events.js';
import { Notification } from './notification.js';

// ── client → server payloads ────────────────────────────────────────────────

export const TripJoinPayload = z.object({ tripId: Identifier, since: StreamPosition.optional() });
export const TripLeavePayload = z.object({ tripId: Identifier });
export const TripUpdatePayload = z.object({ tripId: Identifier, changes: JsonObject });
export const TripTypingPayload = z.object({ tripId: Identifier, typing: z.boolean() });
export const AuthRefreshPayload = z.object({ token: z.string().min(1).max(8192) });
/** `ping` accepts anything. */
export const PingPayload = z.unknown();

/** What the client may pass as `auth` in the handshake. */
export const HandshakeAuth = z.object({
  token: z.string().optional(),
  notificationsSince: StreamPosition.optional(),
});

/**
 * `connect_error` of a refused handshake: `message` is `"unauthorized"` with a token code, or
 * `"rate_limited"` (code `rate_limited`) when a limit refused it: too many handshakes from the
 * address, or the user already has the most sockets allowed.
 */
export const ConnectErrorData = z.object({
  code: z.union([HandshakeErrorCode, z.literal('rate_limited')]),
  message: z.string(),
});

// ── acknowledgements ────────────────────────────────────────────────────────

export const PresenceEntry = z.object({ userId: Identifier, name: z.string().optional() });

export const TripJoinResult = z.object({
  tripId: Identifier,
  seq: z.number().int().min(0),
  epoch: z.string(),
  recovered: z.boolean(),
  presence: z.array(PresenceEntry),
});
export const TripLeaveResult = z.object({ tripId: Identifier });
export const TripUpdateResult = z.object({ eventId: z.string() });
export const TripTypingResult = z.object({ tripId: Identifier });
export const AuthRefreshResult = z.object({ expiresAt: Timestamp });
export const PingResult = z.object({ serverTime: Timestamp });

/** Every ack is `{ ok: true, ...result }` or `{ ok: false, error: { code, message } }`. */
export type AckResponse<T> = ({ ok: true } & T) | { ok: false; error: ErrorBody };
export type Ack<T> = (response: AckResponse<T>) => void;

// ── server → client payloads ────────────────────────────────────────────────

const tripUpdatedFor = <T extends TripEventType>(type: T) =>
  z.object({
    eventId: z.string(),
    type: z.literal(type),
    tripId: Identifier,
    seq: z.number().int().min(1),
    epoch: z.string(),
    time: Timestamp,
    source: z.string(),
    data: tripEventData[type],
  });

/** `trip:updated`: one trip event with its place in the trip's stream; `data` is typed by `type`. */
export const TripUpdatedMessage = z.discriminatedUnion('type', [
  tripUpdatedFor('trip.created'),
  tripUpdatedFor('trip.updated'),
  tripUpdatedFor('trip.deleted'),
  tripUpdatedFor('trip.member.added'),
  tripUpdatedFor('trip.member.removed'),
  tripUpdatedFor('trip.activity'),
]);

/** `notification`: `seq`/`epoch` count per user and are absent on broadcasts. */
export const NotificationMessage = Notification.extend({
  eventId: z.string(),
  seq: z.number().int().min(1).optional(),
  epoch: z.string().optional(),
  time: Timestamp,
});

export const ConnectedMessage = z.object({
  message: z.string(),
  userId: Identifier,
  socketId: z.string(),
  serverTime: Timestamp,
  notificationsRecovered: z.boolean().optional(),
  /** Addition (issue 10): where the user's notification stream stood when the socket joined it. */
  notificationsHead: StreamPosition.optional(),
});
export const TripJoinedMessage = z.object({ tripId: Identifier, seq: z.number().int().min(0) });
export const TripLeftReason = z.enum(['left', 'removed', 'deleted']);
export const TripLeftMessage = z.object({ tripId: Identifier, reason: TripLeftReason });
export const UserJoinedMessage = z.object({ tripId: Identifier, userId: Identifier, name: z.string().optional() });
export const UserLeftMessage = z.object({ tripId: Identifier, userId: Identifier });
export const TripTypingMessage = z.object({ tripId: Identifier, userId: Identifier, typing: z.boolean() });
export const PongMessage = z.object({ serverTime: Timestamp });
export const AuthExpiredMessage = z.object({ expiredAt: Timestamp });
/** Sent to every socket just before a graceful shutdown closes it; the client then reconnects by itself. */
export const ServerShutdownMessage = z.object({ message: z.string(), serverTime: Timestamp });
export const RequestErrorMessage = z.object({ event: z.string(), code: ErrorCode, message: z.string() });

type In<S extends z.ZodType> = z.infer<S>;

/** Socket.IO's map of what clients send; the server's handlers and the typed client both use it. */
export interface ClientToServerEvents {
  'trip:join': (payload: In<typeof TripJoinPayload>, ack?: Ack<In<typeof TripJoinResult>>) => void;
  'trip:leave': (payload: In<typeof TripLeavePayload>, ack?: Ack<In<typeof TripLeaveResult>>) => void;
  'trip:update': (payload: In<typeof TripUpdatePayload>, ack?: Ack<In<typeof TripUpdateResult>>) => void;
  'trip:typing': (payload: In<typeof TripTypingPayload>, ack?: Ack<In<typeof TripTypingResult>>) => void;
  'auth:refresh': (payload: In<typeof AuthRefreshPayload>, ack?: Ack<In<typeof AuthRefreshResult>>) => void;
  ping: (payload?: unknown, ack?: Ack<In<typeof PingResult>>) => void;
}

/** Socket.IO's map of what the server sends. */
export interface ServerToClientEvents {
  connected: (payload: In<typeof ConnectedMessage>) => void;
  'trip:updated': (payload: In<typeof TripUpdatedMessage>) => void;
  notification: (payload: In<typeof NotificationMessage>) => void;
  'trip:joined': (payload: In<typeof TripJoinedMessage>) => void;
  'trip:left': (payload: In<typeof TripLeftMessage>) => void;
  'user:joined': (payload: In<typeof UserJoinedMessage>) => void;
  'user:left': (payload: In<typeof UserLeftMessage>) => void;
  'trip:typing': (payload: In<typeof TripTypingMessage>) => void;
  pong: (payload: In<typeof PongMessage>) => void;
  'auth:expired': (payload: In<typeof AuthExpiredMessage>) => void;
  'server:shutdown': (payload: In<typeof ServerShutdownMessage>) => void;
  'request:error': (payload: In<typeof RequestErrorMessage>) => void;
}

export type ClientEventName = keyof ClientToServerEvents;

/**
 * The maps above at run time (the AsyncAPI document is built from them): each client event's payload
 * and the result its ack carries, and each server event's payload. `satisfies` keeps their keys those
 * of the maps.
 */
export const clientEventSchemas = {
  'trip:join': { payload: TripJoinPayload, result: TripJoinResult },
  'trip:leave': { payload: TripLeavePayload, result: TripLeaveResult },
  'trip:update': { payload: TripUpdatePayload, result: TripUpdateResult },
  'trip:typing': { payload: TripTypingPayload, result: TripTypingResult },
  'auth:refresh': { payload: AuthRefreshPayload, result: AuthRefreshResult },
  ping: { payload: PingPayload, result: PingResult },
} as const satisfies Record<ClientEventName, { payload: z.ZodType; result: z.ZodType }>;

export const serverEventSchemas = {
  connected: ConnectedMessage,
  'trip:updated': TripUpdatedMessage,
  notification: NotificationMessage,
  'trip:joined': TripJoinedMessage,
  'trip:left': TripLeftMessage,
  'user:joined': UserJoinedMessage,
  'user:left': UserLeftMessage,
  'trip:typing': TripTypingMessage,
  pong: PongMessage,
  'auth:expired': AuthExpiredMessage,
  'server:shutdown': ServerShutdownMessage,
  'request:error': RequestErrorMessage,
} as const satisfies Record<keyof ServerToClientEvents, z.ZodType>;

/** What a refused handshake gets: Socket.IO's `connect_error`, an Error whose `message` and `data` are these. */
export const ConnectError = z.object({ message: z.enum(['unauthorized', 'rate_limited']), data: ConnectErrorData });
export type TripJoinPayload = In<typeof TripJoinPayload>;
export type TripJoinResult = In<typeof TripJoinResult>;
export type TripUpdatedMessage = In<typeof TripUpdatedMessage>;
export type NotificationMessage = In<typeof NotificationMessage>;
export type TripLeftReason = In<typeof TripLeftReason>;
export type PresenceEntry = In<typeof PresenceEntry>;
export type HandshakeAuth = In<typeof HandshakeAuth>;
export type ConnectErrorData = In<typeof ConnectErrorData>;
