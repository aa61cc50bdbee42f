/** How often the wheel looks for due keys: expiry happens at most this late (plus event-loop delay). */
export const EXPIRY_TICK_MS = 250;

export interface ExpiryWheelOptions<K> {
  /** Called once for each key whose second has come; the key is already removed. */
  onExpire(key: K, atSeconds: number): void;
  /** Called with whatever `onExpire` threw; the wheel goes on with the other keys. */
  onError(err: unknown, key: K): void;
  tickMs?: number;
  /** Wall-clock milliseconds, as JWT `exp` is (a test passes a fake clock). */
  now?: () => number;
}

/**
 * One timer for many deadlines: keys sit in buckets by the second they expire, and one interval
 * empties each bucket when its second comes. Adding, moving and removing a key are O(1) map and set
 * operations, so a server with 100k sockets has 100k map entries and one interval, not 100k timers.
 * The interval runs only while a key is scheduled, is unref'd, and `close()` clears it.
 */
export class ExpiryWheel<K> {
  private readonly buckets = new Map<number, Set<K>>();
  private readonly slotOf = new Map<K, number>();
  private readonly onExpire: (key: K, atSeconds: number) => void;
  private readonly onError: (err: unknown, key: K) => void;
  private readonly tickMs: number;
  private readonly now: () => number;
  /** The next second whose bucket has not been emptied yet. */
  private cursor: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: ExpiryWheelOptions<K>) {
    this.onExpire = options.onExpire;
    this.onError = options.onError;
    this.tickMs = options.tickMs ?? EXPIRY_TICK_MS;
    this.now = options.now ?? Date.now;
    if (!Number.isFinite(this.tickMs) || this.tickMs <= 0) throw new Error('tickMs must be a positive number');
    this.cursor = this.second();
  }

  /** How many keys are scheduled. */
  get size(): number {
    return this.slotOf.size;
  }

  /** Whether the one interval is running (it is not while nothing is scheduled). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** When the key expires (seconds since the epoch), if it is scheduled. */
  expiryOf(key: K): number | undefined {
    return this.slotOf.get(key);
  }

  /**
   * Schedules the key to expire at `atSeconds` (seconds since the epoch, as JWT `exp`), replacing
   * any earlier schedule. A time already past expires at the next tick. Ignored once closed.
   */
  set(key: K, atSeconds: number): void {
    if (this.closed) return;
    this.delete(key);
    if (this.timer === undefined) this.cursor = this.second();
    // Buckets before the cursor were emptied already; an overdue key goes to the one just before it,
    // which every tick looks at first.
    const slot = Math.max(Math.floor(atSeconds), this.cursor - 1);
    let bucket = this.buckets.get(slot);
    if (!bucket) this.buckets.set(slot, (bucket = new Set()));
    bucket.add(key);
    this.slotOf.set(key, slot);
    this.startTimer();
  }

  /** Unschedules the key; true when it was scheduled. */
  delete(key: K): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    this.slotOf.delete(key);
    const bucket = this.buckets.get(slot);
    bucket?.delete(key);
    if (bucket?.size === 0) this.buckets.delete(slot);
    return true;
  }

  /** Expires every key whose second has come. The interval calls it; tests may too. */
  tick(): void {
    const nowSeconds = this.second();
    const from = this.cursor - 1;
    // Moved first, so that a key an onExpire callback schedules lands where a later tick looks.
    this.cursor = Math.max(this.cursor, nowSeconds + 1);
    // After a long stall (or a clock jump) walking every second would be slower than walking the buckets.
    if (nowSeconds - from > this.buckets.size) {
      for (const slot of [...this.buckets.keys()].sort((a, b) => a - b)) {
        if (slot <= nowSeconds) this.expireBucket(slot);
      }
    } else {
      for (let slot = from; slot <= nowSeconds; slot += 1) this.expireBucket(slot);
    }
    if (this.slotOf.size === 0) this.stopTimer();
  }

  /** Stops the interval and forgets every key; later `set` calls are ignored. Idempotent. */
  close(): void {
    this.closed = true;
    this.stopTimer();
    this.buckets.clear();
    this.slotOf.clear();
  }

  private expireBucket(slot: number): void {
    const bucket = this.buckets.get(slot);
    if (!bucket) return;
    this.buckets.delete(slot);
    for (const key of bucket) {
      // A key moved or removed by an earlier callback of this same tick is no longer here.
      if (this.slotOf.get(key) !== slot) continue;
      this.slotOf.delete(key);
      try {
        this.onExpire(key, slot);
      } catch (err) {
        this.onError(err, key);
      }
    }
  }

  private second(): number {
    return Math.floor(this.now() / 1000);
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
