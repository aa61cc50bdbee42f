/**
 * A shared store could not be reached (Redis down, say). The event that met it is retried until the
 * store is back, in order, rather than dead-lettered: the failure is not the event's.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** Another instance is handling the same event; it is retried once that one finished or died. */
export class EventBusyError extends Error {
  override name = 'EventBusyError';
}

/**
 * Runs tasks one at a time per key, across every instance that shares the implementation's store:
 * what orders "number, keep and emit" against "replay, then join" for a stream.
 */
export interface StreamLock {
  run<T>(key: string, task: () => Promise<T> | T): Promise<T>;
}

/** A position in a stream: `seq` counts 1, 2, 3… within `epoch`. */
export interface StreamHead {
  seq: number;
  epoch: string;
}

/** What a stream kept since a position: every later message, or `recovered: false` when it cannot say. */
export type Recovery<T> =
  | { recovered: true; head: StreamHead; messages: T[] }
  | { recovered: false; head: StreamHead };

/**
 * The numbered per-trip and per-user streams and their recent history. Streams are named like rooms
 * (`trip:<id>`, `user:<id>`). An implementation that forgets a stream starts it again under a new
 * epoch, so that clients can tell.
 */
export interface StreamStore<T> {
  /**
   * Gives the message built for the stream's next position that position, and keeps it in history.
   * Idempotent by event id: when the stream's last message was kept for `eventId` (its handler died
   * or failed after keeping it), that message comes back, with its position, instead of a new one.
   */
  append(stream: string, eventId: string, build: (head: StreamHead) => T): Promise<T>;
  /** The position of the last message kept (seq 0 for a stream with no event yet). */
  head(stream: string): Promise<StreamHead>;
  /** The messages after `position`, if the history still reaches back to it within the same epoch. */
  since(stream: string, position: StreamHead): Promise<Recovery<T>>;
  /** Forgets a stream and its history (its next message starts a new epoch). */
  drop(stream: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a claim on an event id found: `new` (it is now held as in progress), `seen` (handled within
 * the window), or `busy` (in progress elsewhere: another instance holds it until it completes,
 * releases, or its claim expires because that instance died).
 */
export type Claim = 'new' | 'seen' | 'busy';

/** The de-duplication window over event ids. */
export interface DedupeStore {
  /**
   * With `takeOver`, a claim held elsewhere is taken (the answer is `new`): for a redelivered
   * message, whose earlier holder lost its channel and most likely died. Handling it twice at once
   * is safe: appends are idempotent by event id, so both would send the very same message.
   */
  claim(id: string, takeOver?: boolean): Promise<Claim>;
  /** Marks a claimed id as handled, for the whole window. */
  complete(id: string): Promise<void>;
  /** Forgets a claim whose event could not be handled, so that its redelivery is handled. */
  release(id: string): Promise<void>;
  close(): Promise<void>;
}

/** The last membership change of a user in a trip, or of the trip itself, with its time in seconds. */
export interface MembershipFact {
  change: 'added' | 'removed' | 'deleted';
  /** Seconds since the epoch, comparable with a token's `iat`. */
  at: number;
}

/** Membership changes learned from `trip.member.*` and `trip.deleted` events, kept for a time. */
export interface MembershipStore {
  /** Records the latest change of one user in a trip. */
  record(tripId: string, userId: string, fact: MembershipFact): Promise<void>;
  /** Records that the trip was deleted. */
  recordDeleted(tripId: string, at: number): Promise<void>;
  /** The user's latest change in the trip and the trip's deletion, where known. */
  lookup(tripId: string, userId: string): Promise<{ member?: MembershipFact; deleted?: MembershipFact }>;
  close(): Promise<void>;
}
