import type { StreamHead, StreamLock, StreamStore } from '../state/stores.js';
import type { BridgeSocket } from './types.js';

export interface ReplayAndJoin<T> {
  socket: BridgeSocket;
  room: string;
  store: StreamStore<T>;
  lock: StreamLock;
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
 * later one arrives through the room, each exactly once.
 */
export function replayAndJoin<T>(options: ReplayAndJoin<T>): Promise<{ head: StreamHead; recovered: boolean }> {
  const { socket, room, store, since } = options;
  return options.lock.run(room, async () => {
    await options.check?.();
    const recovery = since ? await store.since(room, since) : undefined;
    if (recovery?.recovered) for (const message of recovery.messages) options.send(message);
    await socket.join(room);
    return { head: recovery?.head ?? (await store.head(room)), recovered: recovery?.recovered ?? false };
  });
}
