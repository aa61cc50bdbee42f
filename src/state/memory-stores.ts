import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { DedupeStore, StreamHead, StreamStore } from './stores.js';

export interface MemoryStoreLimits {
  /** Most streams remembered; the least recently used is forgotten (its next event starts a new epoch). */
  maxStreams: number;
  /** Most event ids held for de-duplication, and for how long. */
  dedupeMaxIds: number;
  dedupeWindowMs: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryStoreLimits = {
  maxStreams: 100_000,
  dedupeMaxIds: 100_000,
  dedupeWindowMs: 10 * 60_000,
};

/** Stream numbering in this process's memory: lost on restart, hence one epoch prefix per process. */
export class MemoryStreamStore implements StreamStore {
  private readonly heads: LRUCache<string, StreamHead>;
  private readonly bootId = randomBytes(6).toString('base64url');
  private created = 0;

  constructor(maxStreams = DEFAULT_MEMORY_LIMITS.maxStreams) {
    this.heads = new LRUCache({ max: maxStreams });
  }

  async next(stream: string): Promise<StreamHead> {
    const head = this.open(stream);
    head.seq += 1;
    return { seq: head.seq, epoch: head.epoch };
  }

  async head(stream: string): Promise<StreamHead> {
    const { seq, epoch } = this.open(stream);
    return { seq, epoch };
  }

  async close(): Promise<void> {
    this.heads.clear();
  }

  private open(stream: string): StreamHead {
    let head = this.heads.get(stream);
    if (!head) {
      head = { seq: 0, epoch: `${this.bootId}.${(this.created++).toString(36)}` };
      this.heads.set(stream, head);
    }
    return head;
  }
}

/** The de-duplication window in this process's memory, bounded in count and age. */
export class MemoryDedupeStore implements DedupeStore {
  private readonly seen: LRUCache<string, true>;

  constructor(maxIds = DEFAULT_MEMORY_LIMITS.dedupeMaxIds, windowMs = DEFAULT_MEMORY_LIMITS.dedupeWindowMs) {
    this.seen = new LRUCache({ max: maxIds, ttl: windowMs });
  }

  async claim(id: string): Promise<boolean> {
    if (this.seen.has(id)) return false;
    this.seen.set(id, true);
    return true;
  }

  async release(id: string): Promise<void> {
    this.seen.delete(id);
  }

  async close(): Promise<void> {
    this.seen.clear();
  }
}
