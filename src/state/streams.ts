import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { KeyedLock } from './keyed-lock.js';
import type { StreamLock, StreamStore } from './stores.js';

/**
 * The trip and user streams with the lock that orders, per stream, "number, keep and emit" against
 * "replay, then join": what makes recovery free of gaps and duplicates.
 */
export interface Streams {
  trips: StreamStore<TripUpdatedMessage>;
  users: StreamStore<NotificationMessage>;
  lock: StreamLock;
}

/** Bundles two stores with a lock: by default one for this process alone. */
export function createStreams(
  trips: StreamStore<TripUpdatedMessage>,
  users: StreamStore<NotificationMessage>,
  lock: StreamLock = new KeyedLock(),
): Streams {
  return { trips, users, lock };
}
