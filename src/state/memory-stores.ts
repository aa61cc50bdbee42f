import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { outcomeOf } from './membership-order.js';
import {
  FencedError,
  replaysEverything,
  type Appended,
  type DedupeStore,
  type EntrySink,
  type Fence,
  type Lease,
  type MembershipFact,
  type MembershipStore,
  type Recorded,
  type Recovery,
  type StreamEntry,
  type StreamHead,
  type StreamStore,
  type StreamWrite,
} from './stores.js';

export interface HistoryLimits {
  /** Messages kept per stream (`HISTORY_SIZE`). */
  size: number;
  /**
   * Bytes kept per stream (`HISTORY_MAX_BYTES`), counted as each entry's JSON: the oldest go first
   * while over it. Per stream, since that is what one Redis script can keep exact atomically.
   */
  maxBytes: number;
  /** How long a message is kept (`HISTORY_TTL_SECONDS`, in ms). */
  ttlMs: number;
  /**
   * Bytes of history kept across all streams of this process (each stream also costs
   * STREAM_OVERHEAD_BYTES); past it, the least recently used streams are forgotten.
   */
  totalBytes: number;
}

export const DEFAULT_HISTORY: HistoryLimits = { size: 100, maxBytes: 1024 * 1024, ttlMs: 300_000, totalBytes: 256 * 1024 * 1024 };

/** What a stream costs the memory budget beside its history: its head, its arrays, its key. */
export const STREAM_OVERHEAD_BYTES = 256;

export interface DedupeLimits {
  maxIds: number;
  windowMs: number;
}

export const DEFAULT_DEDUPE: DedupeLimits = { maxIds: 100_000, windowMs: 10 * 60_000 };

/** One lease valid at a time, in this process (one instance: its channels take turns). */
export class MemoryFence implements Fence {
  private current = '';
  private leases = 0;

  async acquire(): Promise<Lease> {
    this.current = `lease.${++this.leases}`;
    return { token: this.current };
  }

  /** Throws FencedError unless `lease` is the one handed out last. */
  check(lease: Lease): void {
    if (lease.token !== this.current) throw new FencedError('a newer lease was acquired');
  }
}

/**
 * A stream's head and its history. History is kept as each entry's JSON, as the Redis store keeps it:
 * what the caps count, and one string per entry rather than a graph of objects that lives for minutes
 * (the garbage collector's old generation) only to be read back on a reconnection.
 */
interface Stream extends StreamHead {
  /**
   * The entries kept from index `first` on, oldest first: always the last ones numbered, in a row, up
   * to `seq`. Dropping the oldest moves `first` (shifting three arrays per event cost a copy of each).
   */
  kept: Array<string | undefined>;
  /** When each was kept (ms) and its bytes, at the same indexes; `bytes` is the sum of the live ones. */
  keptAt: number[];
  sizes: number[];
  first: number;
  bytes: number;
}

/** Dropped slots at the front of a stream's arrays are cut off once they are this many and half of them. */
const COMPACT_AFTER = 64;

/** Streams and their history in this process's memory: lost on restart, hence one epoch prefix per process. */
export class MemoryStreamStore<T> implements StreamStore<T> {
  private readonly streams: LRUCache<string, Stream>;
  /** `<stream>\n<event id>` of the writes within the de-duplication window. */
  private readonly written: LRUCache<string, true>;
  private readonly bootId = randomBytes(6).toString('base64url');
  private created = 0;
  private sink: EntrySink<T> = () => undefined;
  /** What every stream here costs the budget: its history's bytes plus STREAM_OVERHEAD_BYTES each. */
  private totalBytes = 0;

  constructor(
    private readonly fence: MemoryFence,
    private readonly limits: HistoryLimits = DEFAULT_HISTORY,
    private readonly now: () => number = Date.now,
    dedupe: DedupeLimits = DEFAULT_DEDUPE,
  ) {
    // Bounded by the bytes the streams hold, so that many busy trips (or large events) cannot exhaust
    // memory: counted here as entries come and go (lru-cache would measure a size only on set()).
    this.streams = new LRUCache({
      max: Math.max(1, Math.ceil(limits.totalBytes / STREAM_OVERHEAD_BYTES)),
      dispose: (s) => (this.totalBytes -= s.bytes + STREAM_OVERHEAD_BYTES),
    });
    this.written = new LRUCache({ max: dedupe.maxIds, ttl: dedupe.windowMs });
  }

  /** Where every entry goes as it is numbered: this instance's room feeds. */
  listen(sink: EntrySink<T>): void {
    this.sink = sink;
  }

  /** Answers at once; throws FencedError when `lease` is not the last one handed out. */
  append(write: StreamWrite<T>, lease: Lease): Appended {
    this.fence.check(lease);
    const key = `${write.stream}\n${write.eventId}`;
    if (this.written.has(key)) return 'duplicate';
    this.written.set(key, true);
    const s = this.open(write.stream);
    s.seq += 1;
    // Not `{ ...write.message, seq, epoch }`: on Node 20 a spread followed by more properties takes
    // V8's slow path, 1.5–4 µs per object against 0.2–0.3 µs (bench/results/profiles/README.md).
    const message = Object.assign({}, write.message, { seq: s.seq, epoch: s.epoch }) as T;
    const entry: StreamEntry<T> = { stream: write.stream, seq: s.seq, at: this.now(), message };
    if (write.leave) entry.leave = write.leave;
    this.keep(s, entry);
    // The least recently used streams go first; this one was just used.
    while (this.totalBytes > this.limits.totalBytes && this.streams.size > 1) this.streams.pop();
    this.sink(entry);
    if (write.drop) this.streams.delete(write.stream);
    return 'appended';
  }

  async head(stream: string): Promise<StreamHead & { at: number }> {
    const { seq, epoch } = this.open(stream);
    return { seq, epoch, at: this.now() };
  }

  async since(stream: string, position: StreamHead): Promise<Recovery<T>> {
    const s = this.open(stream);
    const head = { seq: s.seq, epoch: s.epoch };
    const at = this.now();
    if (position.epoch !== s.epoch || position.seq > s.seq) return { recovered: false, head, at };
    const cutoff = at - this.limits.ttlMs;
    while (s.first < s.kept.length && s.keptAt[s.first]! < cutoff) this.dropOldest(s);
    const count = s.kept.length - s.first;
    const firstSeq = s.seq - count + 1;
    const from = s.first + Math.max(0, position.seq + 1 - firstSeq);
    const missed = s.kept.slice(from).map((json) => JSON.parse(json!) as StreamEntry<T>);
    return replaysEverything(missed, position.seq, s.seq) ? { recovered: true, head, entries: missed, at } : { recovered: false, head, at };
  }

  async close(): Promise<void> {
    this.streams.clear();
  }

  /**
   * Keeps the entry, then drops the oldest while over either cap. An entry larger than the byte cap
   * alone is not kept, and neither is anything before it: no replay could reach across it.
   */
  private keep(s: Stream, entry: StreamEntry<T>): void {
    const json = JSON.stringify(entry);
    const size = Buffer.byteLength(json);
    if (size > this.limits.maxBytes) {
      this.totalBytes -= s.bytes;
      s.kept = [];
      s.keptAt = [];
      s.sizes = [];
      s.first = 0;
      s.bytes = 0;
      return;
    }
    s.kept.push(json);
    s.keptAt.push(entry.at);
    s.sizes.push(size);
    s.bytes += size;
    this.totalBytes += size;
    while (s.kept.length - s.first > this.limits.size || s.bytes > this.limits.maxBytes) this.dropOldest(s);
  }

  private dropOldest(s: Stream): void {
    const size = s.sizes[s.first]!;
    s.kept[s.first] = undefined;
    s.first += 1;
    s.bytes -= size;
    this.totalBytes -= size;
    if (s.first >= COMPACT_AFTER && s.first * 2 >= s.kept.length) {
      s.kept.splice(0, s.first);
      s.keptAt.splice(0, s.first);
      s.sizes.splice(0, s.first);
      s.first = 0;
    }
  }

  private open(stream: string): Stream {
    let s = this.streams.get(stream);
    if (!s) {
      s = { seq: 0, epoch: `${this.bootId}.${(this.created++).toString(36)}`, kept: [], keptAt: [], sizes: [], first: 0, bytes: 0 };
      this.streams.set(stream, s);
      this.totalBytes += STREAM_OVERHEAD_BYTES;
    }
    return s;
  }
}

/** The de-duplication window of broadcasts in this process's memory, bounded in count and age. */
export class MemoryDedupeStore implements DedupeStore {
  private readonly ids: LRUCache<string, true>;

  constructor(limits: DedupeLimits = DEFAULT_DEDUPE) {
    this.ids = new LRUCache({ max: limits.maxIds, ttl: limits.windowMs });
  }

  async seen(id: string): Promise<boolean> {
    return this.ids.has(id);
  }

  async remember(id: string): Promise<void> {
    this.ids.set(id, true);
  }

  async close(): Promise<void> {
    this.ids.clear();
  }
}

export interface MembershipLimits {
  maxFacts: number;
  /** How long a fact is kept: longer than any token lives, so that a removal outlasts the tokens it voids. */
  ttlMs: number;
}

export const DEFAULT_MEMBERSHIP: MembershipLimits = { maxFacts: 100_000, ttlMs: 24 * 3600_000 };

/** Membership changes in this process's memory, bounded in count and age. */
export class MemoryMembershipStore implements MembershipStore {
  private readonly facts: LRUCache<string, MembershipFact>;

  /** @param fence checked by every write when given (the bridge's), so that a stale lease writes nothing. */
  constructor(
    limits: MembershipLimits = DEFAULT_MEMBERSHIP,
    private readonly fence?: MemoryFence,
  ) {
    this.facts = new LRUCache({ max: limits.maxFacts, ttl: limits.ttlMs });
  }

  async record(tripId: string, userId: string | undefined, fact: MembershipFact, lease: Lease): Promise<Recorded> {
    this.fence?.check(lease);
    const key = userId === undefined ? tripId : `${tripId}\n${userId}`;
    const outcome = outcomeOf(fact, this.facts.get(key));
    // A stale fact does not even refresh the kept one's time limit: it changes nothing.
    if (outcome === 'recorded') this.facts.set(key, fact);
    return outcome;
  }

  async lookup(tripId: string, userId: string): Promise<{ member?: MembershipFact; deleted?: MembershipFact }> {
    const member = this.facts.get(`${tripId}\n${userId}`);
    const deleted = this.facts.get(tripId);
    return { ...(member ? { member } : {}), ...(deleted ? { deleted } : {}) };
  }

  async close(): Promise<void> {
    this.facts.clear();
  }
}
