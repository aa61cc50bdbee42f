import type { NowOrLater } from './now-or-later.js';

/**
 * A shared store could not be reached (Redis down, say). The event that met it is retried until the
 * store is back, in order, rather than dead-lettered: the failure is not the event's.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * The writer's lease was taken over: another consumer writes the streams now (this one lost its
 * channel and its messages went to the other), or the store forgot the lease (Redis lost its data).
 * Nothing was written; the message is the other consumer's now.
 */
export class FencedError extends Error {
  override name = 'FencedError';
}

/** Proof of being the one writer of the streams, checked by every write in the same atomic step. */
export interface Lease {
  readonly token: string;
}

/**
 * Hands out leases, one valid at a time: acquiring one voids every earlier one, everywhere. The
 * consumer takes a lease when the broker starts delivering to it (a single active consumer), so that
 * a consumer that lost its channel, and may still be running its handlers, can write nothing more.
 */
export interface Fence {
  acquire(): Promise<Lease>;
}

/**
 * Runs tasks one at a time per key, across every instance that shares the implementation's store:
 * what orders "number, keep and hand out" against "replay, then join" for a stream.
 */
export interface StreamLock {
  run<T>(key: string, task: () => NowOrLater<T>): NowOrLater<T>;
}

/** A position in a stream: `seq` counts 1, 2, 3… within `epoch`. */
export interface StreamHead {
  seq: number;
  epoch: string;
}

/** What the sockets of a trip's room do after its entry: the removed user's sockets leave, or all of them. */
export type StreamLeave = { reason: 'removed'; userId: string } | { reason: 'deleted' };

/** A message of a stream with its place, as kept in history and handed to every instance's room feed. */
export interface StreamEntry<T> {
  /** The stream, named like its room (`trip:<id>`, `user:<id>`). */
  stream: string;
  seq: number;
  /** When it was kept, in ms (the store's clock): what history's age limit is measured against. */
  at: number;
  /** The message, with `seq` and the stream's `epoch` in it. */
  message: T;
  leave?: StreamLeave;
}

/** One event's message for one stream; the store numbers it. */
export interface StreamWrite<T> {
  stream: string;
  /** Writes are idempotent per stream and event id, within the de-duplication window. */
  eventId: string;
  /** The message without its place: the store adds `seq` and `epoch`. */
  message: Omit<T, 'seq' | 'epoch'>;
  leave?: StreamLeave;
  /** Forget the stream once this entry is handed out (a deleted trip): its next message starts a new epoch. */
  drop?: boolean;
}

/** What became of a write: numbered and handed out, or already written within the window. */
export type Appended = 'appended' | 'duplicate';

/** What a stream kept since a position: every later entry, or `recovered: false` when it cannot say. */
export type Recovery<T> =
  | { recovered: true; head: StreamHead; entries: Array<StreamEntry<T>>; at: number }
  | { recovered: false; head: StreamHead; at: number };

/**
 * A replay after `from` up to `headSeq` is complete only when `missed` (the kept entries after it, in
 * order) holds every seq in between: a hole left by the caps or by age means `recovered: false`.
 */
export function replaysEverything(missed: ReadonlyArray<{ seq: number }>, from: number, headSeq: number): boolean {
  return missed.length === headSeq - from && missed.every((e, i) => e.seq === from + 1 + i);
}

/** Where a store hands the entries it numbered: the room feeds of an instance. */
export type EntrySink<T> = (entry: StreamEntry<T>) => void;

/**
 * The numbered per-trip and per-user streams and their recent history. An append is the delivery:
 * in one atomic step the store checks the writer's lease, numbers the message, keeps it in history
 * and hands the entry to every instance's room feed, so that every instance sees each stream's
 * entries in the order they were numbered. A store that forgets a stream, or may have lost or rolled
 * back writes, starts it again under a new epoch, so that clients can tell.
 */
export interface StreamStore<T> {
  /**
   * Fails with FencedError when `lease` is no longer the valid one (nothing written). A store in
   * memory answers (or throws) at once.
   */
  append(write: StreamWrite<T>, lease: Lease): NowOrLater<Appended>;
  /** The position of the last entry (seq 0 for a stream with no event yet), with the store's clock. */
  head(stream: string): Promise<StreamHead & { at: number }>;
  /** The entries after `position`, if the history still reaches back to it within the same epoch. */
  since(stream: string, position: StreamHead): Promise<Recovery<T>>;
  close(): Promise<void>;
}

/** The de-duplication window over event ids that no stream numbers (broadcasts). */
export interface DedupeStore {
  /** True when the id was handled within the window. */
  seen(id: string): Promise<boolean>;
  /** Marks the id as handled, for the whole window. */
  remember(id: string): Promise<void>;
  close(): Promise<void>;
}

/** The last membership change of a user in a trip, or of the trip itself, with its time in seconds. */
export interface MembershipFact {
  change: 'added' | 'removed' | 'deleted';
  /**
   * The event's `time` in seconds since the epoch, to the millisecond (a fraction): comparable with a
   * token's whole-second `iat` (`iat <= at` as with whole seconds) and ordering facts within a second.
   */
  at: number;
}

/** What became of a fact: kept, or older than the one kept for the same trip and user (nothing changed). */
export type Recorded = 'recorded' | 'stale';

/**
 * Membership changes learned from `trip.member.*` and `trip.deleted` events, kept for a time. Facts are
 * ordered by their event's time, not by arrival: see outcomeOf (membership-order.ts) for the rule.
 */
export interface MembershipStore {
  /**
   * Records a change of one user in a trip (the trip's deletion, without `userId`) unless the fact kept
   * for them is later ('stale': nothing changed), in one atomic step with the check of `lease`.
   */
  record(tripId: string, userId: string | undefined, fact: MembershipFact, lease: Lease): Promise<Recorded>;
  /** The user's latest change in the trip and the trip's deletion, where known. */
  lookup(tripId: string, userId: string): Promise<{ member?: MembershipFact; deleted?: MembershipFact }>;
  close(): Promise<void>;
}
