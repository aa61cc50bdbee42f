import type { StreamHead, StreamLock, StreamStore } from '../state/stores.js';
import type { RoomFeeds } from './room-feeds.js';
import type { BridgeSocket } from './types.js';

export interface ReplayAndJoin<T> {
  socket: BridgeSocket;
  room: string;
  store: StreamStore<T>;
  lock: StreamLock;
  feeds: RoomFeeds;
  /** Where the client says it stopped; without it nothing is replayed. */
  since: StreamHead | undefined;
  /** Sends one missed message to the socket. */
  send: (message: T) => void;
  /** Runs first, under the lock (an access check that must not race with a removal). */
  check?: () => Promise<void>;
}

/**
 * Replays what a socket missed in a stream, then joins it to the stream's room, under the stream's
 * lock: no message can be numbered in between, so the missed ones arrive first, in order, and every
 * later one arrives through the room's feed, each exactly once (the feed knows the socket already
 * has everything up to the head, even what is still on its way to this instance).
 */
export function replayAndJoin<T>(options: ReplayAndJoin<T>): Promise<{ head: StreamHead; recovered: boolean }> {
  const { socket, room, store, since } = options;
  return Promise.resolve(options.lock.run(room, async () => {
    await options.check?.();
    const recovery = since ? await store.since(room, since) : undefined;
    if (recovery?.recovered) for (const entry of recovery.entries) options.send(entry.message);
    const head = recovery ? { ...recovery.head, at: recovery.at } : await store.head(room);
    await socket.join(room);
    options.feeds.joined(room, socket.id, head);
    return { head: { seq: head.seq, epoch: head.epoch }, recovered: recovery?.recovered ?? false };
  }));
}
