import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type {
  Claim,
  DedupeStore,
  MembershipFact,
  MembershipStore,
  Recovery,
  StreamHead,
  StreamStore,
} from './stores.js';

export interface HistoryLimits {
  /** Messages kept per stream (`HISTORY_SIZE`). */
  size: number;
  /** How long a message is kept (`HISTORY_TTL_SECONDS`, in ms). */
  ttlMs: number;
  /** Messages kept across all streams; past it, the least recently used streams are forgotten. */
  maxMessages: number;
}

export const DEFAULT_HISTORY: HistoryLimits = { size: 100, ttlMs: 300_000, maxMessages: 200_000 };

interface Stream<T> extends StreamHead {
  history: Array<{ seq: number; at: number; message: T }>;
  /** The event the last message was built for. */
  lastEventId?: string;
}

/** Streams and their history in this process's memory: lost on restart, hence one epoch prefix per process. */
export class MemoryStreamStore<T> implements StreamStore<T> {
  private readonly streams: LRUCache<string, Stream<T>>;
  private readonly bootId = randomBytes(6).toString('base64url');
  private created = 0;

  constructor(
    private readonly limits: HistoryLimits = DEFAULT_HISTORY,
    private readonly now: () => number = Date.now,
  ) {
    // Sized by the messages a stream holds, so that many busy trips cannot exhaust memory.
    this.streams = new LRUCache({ maxSize: limits.maxMessages, sizeCalculation: (s) => s.history.length + 1 });
  }

  async append(stream: string, eventId: string, build: (head: StreamHead) => T): Promise<T> {
    const s = this.open(stream);
    const last = s.history.at(-1);
    if (last && s.lastEventId === eventId) return last.message;
    s.seq += 1;
    s.lastEventId = eventId;
    const message = build({ seq: s.seq, epoch: s.epoch });
    s.history.push({ seq: s.seq, at: this.now(), message });
    if (s.history.length > this.limits.size) {
      s.history.shift(); // full: the size is unchanged
    } else {
      // A new object, since lru-cache re-measures a size only when the value changes.
      this.streams.set(stream, { ...s });
    }
    return message;
  }

  async head(stream: string): Promise<StreamHead> {
    const { seq, epoch } = this.open(stream);
    return { seq, epoch };
  }

  async since(stream: string, position: StreamHead): Promise<Recovery<T>> {
    const s = this.open(stream);
    const head = { seq: s.seq, epoch: s.epoch };
    if (position.epoch !== s.epoch || position.seq > s.seq) return { recovered: false, head };
    const cutoff = this.now() - this.limits.ttlMs;
    while (s.history.length > 0 && s.history[0]!.at < cutoff) s.history.shift();
    const missed = s.history.filter((entry) => entry.seq > position.seq);
    // Recovered only when the history still holds the first missed message.
    const complete = position.seq === s.seq || missed[0]?.seq === position.seq + 1;
    return complete ? { recovered: true, head, messages: missed.map((e) => e.message) } : { recovered: false, head };
  }

  async drop(stream: string): Promise<void> {
    this.streams.delete(stream);
  }

  async close(): Promise<void> {
    this.streams.clear();
  }

  private open(stream: string): Stream<T> {
    let s = this.streams.get(stream);
    if (!s) {
      s = { seq: 0, epoch: `${this.bootId}.${(this.created++).toString(36)}`, history: [] };
      this.streams.set(stream, s);
    }
    return s;
  }
}

export interface DedupeLimits {
  maxIds: number;
  windowMs: number;
}

export const DEFAULT_DEDUPE: DedupeLimits = { maxIds: 100_000, windowMs: 10 * 60_000 };

/** The de-duplication window in this process's memory, bounded in count and age. */
export class MemoryDedupeStore implements DedupeStore {
  private readonly seen: LRUCache<string, true>;

  constructor(limits: DedupeLimits = DEFAULT_DEDUPE) {
    this.seen = new LRUCache({ max: limits.maxIds, ttl: limits.windowMs });
  }

  /** One process: an id in progress is already `seen` (its outcome is this process's to settle). */
  async claim(id: string): Promise<Claim> {
    if (this.seen.has(id)) return 'seen';
    this.seen.set(id, true);
    return 'new';
  }

  async complete(): Promise<void> {}

  async release(id: string): Promise<void> {
    this.seen.delete(id);
  }

  async close(): Promise<void> {
    this.seen.clear();
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

  constructor(limits: MembershipLimits = DEFAULT_MEMBERSHIP) {
    this.facts = new LRUCache({ max: limits.maxFacts, ttl: limits.ttlMs });
  }

  async record(tripId: string, userId: string, fact: MembershipFact): Promise<void> {
    this.facts.set(`${tripId}\n${userId}`, fact);
  }

  async recordDeleted(tripId: string, at: number): Promise<void> {
    this.facts.set(tripId, { change: 'deleted', at });
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
