import type { StreamLock } from './stores.js';

/**
 * Runs tasks one at a time per key, in call order; different keys never wait on each other. It
 * makes "number, keep and emit an event" and "replay history, then join the room" exclusive per
 * trip, so that a joining client gets every event once, in order, whatever the store's latency.
 */
export class KeyedLock implements StreamLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task of the same key has settled. */
  run<T>(key: string, task: () => Promise<T> | T): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
