import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { KeyedLock } from './keyed-lock.js';
import { DEFAULT_HISTORY, MemoryFence, MemoryStreamStore, type HistoryLimits } from './memory-stores.js';
import type { EntrySink, Fence, StreamLock, StreamStore } from './stores.js';

/** Any entry of the trip and user streams, as room feeds receive them. */
type AnyEntrySink = EntrySink<TripUpdatedMessage | NotificationMessage>;

/**
 * The trip and user streams with the locks that order, per stream, "number, keep and hand out" against
 * "replay, then join" (what makes recovery free of gaps), the fence that keeps them to one writer, and
 * where their entries arrive on this instance.
 */
export interface Streams {
  trips: StreamStore<TripUpdatedMessage>;
  users: StreamStore<NotificationMessage>;
  fence: Fence;
  /** Taken by joins ("replay, then join"). */
  lock: StreamLock;
  /**
   * Taken by appends ("number, keep and hand out"). In one process, the same lock as joins; across
   * instances, only this process's part of it, since the shared stores wait for joins themselves.
   */
  writeLock: StreamLock;
  /**
   * Sets where this instance receives every stream's entries, in the order they were numbered;
   * `resubscribed` runs when some may have been missed (a shared store's subscription came back).
   * `wants` tells whether this instance has a use for a stream's entries now (a socket here in its
   * room): a store that must parse an entry to hand it over (Redis) leaves the others unparsed.
   */
  listen(sink: AnyEntrySink, resubscribed?: () => void, wants?: (stream: string) => boolean): void;
}

/** Bundles the stores with their locks: by default one lock for this process alone. */
export function createStreams(parts: {
  trips: StreamStore<TripUpdatedMessage>;
  users: StreamStore<NotificationMessage>;
  fence: Fence;
  listen: Streams['listen'];
  lock?: StreamLock;
  writeLock?: StreamLock;
}): Streams {
  const lock = parts.lock ?? new KeyedLock();
  return { ...parts, lock, writeLock: parts.writeLock ?? lock };
}

/** Streams in this process's memory: each append hands its entry to the listener at once. */
export function createMemoryStreams(history: HistoryLimits = DEFAULT_HISTORY): Streams & { fence: MemoryFence } {
  const fence = new MemoryFence();
  const trips = new MemoryStreamStore<TripUpdatedMessage>(fence, history);
  const users = new MemoryStreamStore<NotificationMessage>(fence, history);
  const streams = createStreams({
    trips,
    users,
    fence,
    listen(sink) {
      trips.listen(sink);
      users.listen(sink);
    },
  });
  return { ...streams, fence };
}
