/**
 * What a chaos run records, as plain JSON: the publisher's log, every client's history, the fault
 * schedule and the state after healing. The checker (`checker.ts`) reads only this.
 *
 * Streams are named like rooms: `trip:<tripId>` and `user:<userId>`. Times are milliseconds since
 * the Unix epoch, taken in the one process that runs the campaign.
 */

/** One message the publisher sent to the exchange, in the order it was sent on one channel. */
export interface PublishedRecord {
  /** The CloudEvents id. */
  id: string;
  /** The CloudEvents type (the routing key). */
  type: string;
  /** The streams it must reach: one trip stream, or one user stream per recipient; empty when invalid. */
  streams: string[];
  /** False when made invalid on purpose: it must end in the dead-letter queue with `expectedReason`. */
  valid: boolean;
  expectedReason?: string;
  /** Sent again on purpose with the id of an earlier message (the same body): must not be delivered twice. */
  republish?: boolean;
  /** When it was sent. */
  t: number;
}

/** A position in a stream, as the bridge numbers it. */
export interface Position {
  seq: number;
  epoch: string;
}

/** What one typed client (`src/client`) handed its application, in order. */
export type TypedLogEntry =
  /** `joinTrip` resolved: the application is in the stream from here on. */
  | { t: number; k: 'join'; stream: string; seq: number; epoch: string }
  /** The application left the stream (`leaveTrip`). */
  | { t: number; k: 'leave'; stream: string }
  /** The server took the client out of the stream (`trip:left` with reason `removed` or `deleted`), or a rejoin failed for good. */
  | { t: number; k: 'removed'; stream: string; reason: string }
  /** One event handed to the application (`trip:updated` or `notification` of the typed client). */
  | { t: number; k: 'deliver'; stream: string; eventId: string; seq: number; epoch: string }
  /** `resync` (trips: with the new position) or `notifications:resync` (user stream: no position). */
  | { t: number; k: 'resync'; stream: string; seq?: number; epoch?: string }
  | { t: number; k: 'connect'; instance: string }
  | { t: number; k: 'disconnect'; reason: string };

export interface TypedClientRecord {
  kind: 'typed';
  id: string;
  userId: string;
  log: TypedLogEntry[];
  /** After healing: the streams the client is in, whether it is connected, and its position in each. */
  final: { connected: boolean; streams: Record<string, Position | null> };
}

/** One raw socket.io-client connection: from `connected` to its disconnect. */
export interface RawSession {
  instance: string;
  connectedAt: number;
  /** Absent when still connected at the end of the run. */
  disconnectedAt?: number;
  log: RawLogEntry[];
}

export type RawLogEntry =
  /**
   * The socket is in the stream from here on: a `trip:join` ack (its seq/epoch, and `recovered` when
   * it was sent with `since`), or, for the user stream, `connected` (seq/epoch absent: the server does
   * not say where the user stream stands; `since` gives the position asked for, if any).
   */
  | { t: number; k: 'joined'; stream: string; seq?: number; epoch?: string; since?: Position; recovered?: boolean }
  | { t: number; k: 'event'; stream: string; eventId: string; seq: number; epoch: string }
  /** `trip:left`, any reason (`left` answers the client's own `trip:leave`, before its ack). */
  | { t: number; k: 'left'; stream: string; reason: string };

export interface RawClientRecord {
  kind: 'raw';
  id: string;
  userId: string;
  sessions: RawSession[];
}

export type ClientRecord = TypedClientRecord | RawClientRecord;

export type FaultKind =
  | 'rolling-restart'
  | 'sigkill'
  | 'sigstop'
  | 'amqp-close'
  | 'redis-restart'
  | 'redis-rollback'
  | 'redis-unreachable'
  | 'redis-latency'
  | 'pubsub-kill';

export interface FaultRecord {
  kind: FaultKind;
  /** When it started, and when it was over (healed) where it lasts. */
  at: number;
  until?: number;
  /** The instance it hit, if one. */
  target?: string;
  detail?: string;
}

/** A message found in the dead-letter queue after healing. */
export interface DeadLetterRecord {
  id?: string;
  reason?: string;
  detail?: string;
}

/** A stream as a fresh client found it after healing: its head and the last events of its history. */
export interface FinalStream {
  head: Position;
  /** The last kept events, oldest first (as many as history still held, up to a limit). */
  tail: Array<{ seq: number; eventId: string }>;
}

export interface ChaosHistory {
  seed: number;
  startedAt: number;
  endedAt: number;
  /** When healing started: faults are over from here on, and the run quiesces. */
  healedAt: number;
  instances: string[];
  published: PublishedRecord[];
  clients: ClientRecord[];
  faults: FaultRecord[];
  /** After healing. */
  final: {
    /** Messages left in the bridge queue, ready and unacknowledged. */
    queueMessages: number;
    deadLetters: DeadLetterRecord[];
    /** `GET /api/v1/socket/health` status code of each running instance. */
    health: Record<string, number>;
    /** Trip streams as the final audit found them. */
    streams: Record<string, FinalStream>;
  };
}
