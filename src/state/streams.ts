import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { KeyedLock } from './keyed-lock.js';
import type { StreamStore } from './stores.js';

/**
 * The trip and user streams with the lock that orders, per stream, "number, keep and emit" against
 * "replay, then join": what makes recovery free of gaps and duplicates.
 */
export interface Streams {
  trips: StreamStore<TripUpdatedMessage>;
  users: StreamStore<NotificationMessage>;
  lock: KeyedLock;
}

/** Bundles two stores with a fresh lock. */
export function createStreams(trips: StreamStore<TripUpdatedMessage>, users: StreamStore<NotificationMessage>): Streams {
  return { trips, users, lock: new KeyedLock() };
}
