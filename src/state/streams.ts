import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { KeyedLock } from './keyed-lock.js';
import type { StreamLock, StreamStore } from './stores.js';

/**
 * The trip and user streams with the locks that order, per stream, "number, keep and emit" against
 * "replay, then join": what makes recovery free of gaps.
 */
export interface Streams {
  trips: StreamStore<TripUpdatedMessage>;
  users: StreamStore<NotificationMessage>;
  /** Taken by joins ("replay, then join"). */
  lock: StreamLock;
  /**
   * Taken by appends ("number, keep and emit"). In one process, the same lock as joins; across
   * instances, only this process's part of it, since the shared stores wait for joins themselves.
   */
  writeLock: StreamLock;
}

/** Bundles two stores with their locks: by default one lock for this process alone. */
export function createStreams(
  trips: StreamStore<TripUpdatedMessage>,
  users: StreamStore<NotificationMessage>,
  lock: StreamLock = new KeyedLock(),
  writeLock: StreamLock = lock,
): Streams {
  return { trips, users, lock, writeLock };
}
