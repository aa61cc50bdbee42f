import type { NowOrLater } from './now-or-later.js';
import type { StreamLock } from './stores.js';

/**
 * Runs tasks one at a time per key, in call order; different keys never wait on each other. It
 * makes "number, keep and emit an event" and "replay history, then join the room" exclusive per
 * trip, so that a joining client gets every event once, in order, whatever the store's latency.
 *
 * A task whose key is free runs at once, inside `run`: when it answers at once too (or throws), so
 * does `run`, and the key stays free. Only a task that answers later holds the key, until it settles.
 */
export class KeyedLock implements StreamLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task of the same key has settled (at once, when none is pending). */
  run<T>(key: string, task: () => NowOrLater<T>): NowOrLater<T> {
    const pending = this.tails.get(key);
    const result = pending ? pending.then(task) : task();
    if (!(result instanceof Promise)) return result;
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
