import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import { APPEND, HEAD, poll, redis, SINCE } from './redis-scripts.js';
import type { HistoryLimits } from './memory-stores.js';
import {
  FencedError,
  replaysEverything,
  StoreUnavailableError,
  type Appended,
  type EntrySink,
  type Lease,
  type Recovery,
  type StreamEntry,
  type StreamHead,
  type StreamStore,
  type StreamWrite,
} from './stores.js';

/**
 * How long a stream's lock lasts unless released: longer than its longest task (a join's check and
 * replay, which ask Redis only), short enough that a trip whose instance died while holding it waits
 * only a few seconds.
 */
export const DEFAULT_LOCK_TTL_MS = 5_000;

/** The keys of one deployment in Redis, named in one place. */
export const redisKeys = (prefix: string) => ({
  /** The lease of the one writer (see Fence). */
  fence: `${prefix}fence`,
  /** The stream's head: {seq, epoch, rid, bytes of history}; its braces keep the stream's keys in one cluster slot. */
  stream: (stream: string) => `${prefix}stream:{${stream}}`,
  history: (stream: string) => `${prefix}history:{${stream}}`,
  /** Held by a join while it replays and enters the room. */
  lock: (stream: string) => `${prefix}lock:{${stream}}`,
  /** One event written to one stream, for the de-duplication window. */
  written: (stream: string, eventId: string) => `${prefix}dedupe:{${stream}}:${eventId}`,
  /** The pub/sub channel every instance's room feeds listen to. */
  entries: `${prefix}entries`,
});

/**
 * Streams in Redis, shared by every instance: a hash `stream:{name}` {seq, epoch, rid, bytes} and a
 * list `history:{name}` of entries (JSON), capped in count and in bytes (`bytes`: the list's total).
 * Both expire together after twice the history age without use, after which the stream starts a new epoch. Every append is one script (APPEND): lease, numbering,
 * history, de-duplication and the hand-out to every instance happen in one atomic step, one round trip.
 */
export class RedisStreamStore<T> implements StreamStore<T> {
  private readonly bootId = randomBytes(6).toString('base64url');
  private created = 0;
  private readonly keepMs: number;
  private readonly lockTtlMs: number;
  private readonly keys: ReturnType<typeof redisKeys>;

  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; limits: HistoryLimits; windowMs: number; lockTtlMs?: number },
  ) {
    this.keepMs = Math.max(1, options.limits.ttlMs * 2);
    this.lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.keys = redisKeys(options.prefix);
  }

  /** Waits while a join holds the stream's lock (the writer takes no lock itself: one round trip). */
  async append(write: StreamWrite<T>, lease: Lease): Promise<Appended> {
    const k = this.keys;
    const keys = [k.fence, k.stream(write.stream), k.history(write.stream), k.lock(write.stream), k.written(write.stream, write.eventId)];
    const leave = write.leave ? `,"leave":${JSON.stringify(write.leave)}` : '';
    const args = [
      lease.token,
      this.newEpoch(),
      this.keepMs,
      JSON.stringify(write.message),
      this.options.limits.size,
      this.options.windowMs,
      k.entries,
      write.stream,
      leave,
      write.drop ? '1' : '',
      this.options.limits.maxBytes,
    ];
    const [outcome] = await poll('append', this.lockTtlMs * 2, async () => {
      const reply = (await APPEND.run(this.client, keys, args)) as [string, number?];
      return reply[0] === 'locked' ? undefined : reply;
    });
    if (outcome === 'fenced') throw new FencedError(`lease ${lease.token} is no longer valid`);
    if (outcome !== 'appended' && outcome !== 'duplicate') throw new StoreUnavailableError(`redis append: answered ${outcome}`);
    return outcome;
  }

  async head(stream: string): Promise<StreamHead & { at: number }> {
    const reply = await redis('head', () => HEAD.run(this.client, this.streamKeys(stream), [this.newEpoch(), this.keepMs]));
    const [seq, epoch, at] = reply as [number, string, string];
    return { seq, epoch, at: Number(at) };
  }

  /** As the memory store, and stricter: recovered only when history holds every seq after `position` up to the head. */
  async since(stream: string, position: StreamHead): Promise<Recovery<T>> {
    const reply = await redis('since', () => SINCE.run(this.client, this.streamKeys(stream), [this.newEpoch(), this.keepMs]));
    const [seq, epoch, now, kept] = reply as [number, string, string, string[]];
    const head = { seq, epoch };
    const at = Number(now);
    if (position.epoch !== epoch || position.seq > seq) return { recovered: false, head, at };
    const cutoff = at - this.options.limits.ttlMs;
    const missed = kept
      .map((json) => JSON.parse(json) as StreamEntry<T>)
      .filter((entry) => entry.at >= cutoff && entry.seq > position.seq);
    return replaysEverything(missed, position.seq, seq) ? { recovered: true, head, entries: missed, at } : { recovered: false, head, at };
  }

  /** The client is shared and closed by its owner. */
  async close(): Promise<void> {}

  private streamKeys(stream: string): string[] {
    return [this.keys.stream(stream), this.keys.history(stream)];
  }

  /** Offered on every call, used only when the stream is new: unique per store instance and call. */
  private newEpoch(): string {
    return `${this.bootId}.${(this.created++).toString(36)}`;
  }
}

/**
 * The entries every append publishes, received on a subscriber connection of this instance's own
 * and handed to its room feeds. Pub/sub keeps nothing: after a reconnection (the subscription is
 * confirmed before `ready`), `resubscribed` lets the feeds catch up from history.
 */
export class RedisEntrySubscription<T> {
  private sink: EntrySink<T> = () => undefined;
  private resubscribed: () => void = () => undefined;
  private connections = 0;

  constructor(
    private readonly sub: RedisClientType,
    private readonly channel: string,
  ) {
    // A client connected before this was built has had its first connection: the next is a reconnection.
    if (sub.isReady) this.connections = 1;
    sub.on('ready', () => {
      if (this.connections++ > 0) this.resubscribed();
    });
  }

  /** Where entries go; `resubscribed` runs after every reconnection (entries may have been missed). */
  listen(sink: EntrySink<T>, resubscribed: () => void): void {
    this.sink = sink;
    this.resubscribed = resubscribed;
  }

  /** Subscribes (the client is connected by its owner). */
  async start(): Promise<void> {
    await this.sub.subscribe(this.channel, (json) => this.sink(JSON.parse(json) as StreamEntry<T>));
  }
}
