/** A map of event names to listener signatures, like Socket.IO's event maps. */
export type EventMap<T> = { [K in keyof T]: (...args: never[]) => void };

/**
 * The smallest typed event emitter that runs in browsers and Node alike (no `node:events`).
 * A listener that throws does not stop the others, nor the client's bookkeeping: its error is
 * rethrown on its own, where the runtime reports uncaught errors.
 */
export class Emitter<T extends EventMap<T>> {
  private readonly listeners = new Map<keyof T, Set<T[keyof T]>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof T>(event: K, listener: T[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof T>(event: K, listener: T[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Calls every listener of `event` with `args`, in the order they were added. */
  emit<K extends keyof T>(event: K, ...args: Parameters<T[K]>): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<T[K]>) => void)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
