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

/** Most writes one APPEND call carries: the script runs atomically, and Redis serves nobody else meanwhile. */
export const MAX_WRITES_PER_APPEND = 64;

interface PendingWrite {
  write: StreamWrite<unknown>;
  done: (reply: [string, number]) => void;
  failed: (err: unknown) => void;
}

/**
 * The appends of one turn of the event loop, to any stream of one deployment, sent to Redis as one
 * APPEND call per lease (at most MAX_WRITES_PER_APPEND writes each): each append still gets its own
 * outcome. Lanes of different trips append in the same turn when the broker delivers their events
 * together, and what had been one script call, one reply and one promise chain per event is shared.
 */
export class RedisAppender {
  private readonly bootId = randomBytes(6).toString('base64url');
  private calls = 0;
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly keepMs: number;
  /** Writes of this turn, by lease token. */
  private pending = new Map<string, PendingWrite[]>();
  private scheduled = false;

  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; limits: HistoryLimits; windowMs: number },
  ) {
    this.keys = redisKeys(options.prefix);
    this.keepMs = Math.max(1, options.limits.ttlMs * 2);
  }

  /**
   * One write's outcome ('appended' with its seq, 'duplicate', 'locked' or 'fenced'), sent with the
   * rest of this turn's; rejects with StoreUnavailableError when Redis could not be asked.
   */
  write<T>(write: StreamWrite<T>, lease: Lease): Promise<[string, number]> {
    return new Promise((done, failed) => {
      let writes = this.pending.get(lease.token);
      if (!writes) this.pending.set(lease.token, (writes = []));
      writes.push({ write, done, failed });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [token, writes] of pending) {
      for (let i = 0; i < writes.length; i += MAX_WRITES_PER_APPEND) void this.send(token, writes.slice(i, i + MAX_WRITES_PER_APPEND));
    }
  }

  private async send(token: string, writes: PendingWrite[]): Promise<void> {
    const { limits, windowMs } = this.options;
    const k = this.keys;
    const keys = [k.fence];
    const epoch = `${this.bootId}.${(this.calls++).toString(36)}`;
    const args = [token, epoch, String(this.keepMs), String(limits.size), String(windowMs), k.entries, String(limits.maxBytes)];
    for (const { write } of writes) {
      const { stream } = write;
      keys.push(k.stream(stream), k.history(stream), k.lock(stream), k.written(stream, write.eventId));
      args.push(JSON.stringify(write.message), stream, write.leave ? `,"leave":${JSON.stringify(write.leave)}` : '', write.drop ? '1' : '');
    }
    let reply: Array<string | number>;
    try {
      reply = (await redis('append', () => APPEND.run(this.client, keys, args))) as Array<string | number>;
    } catch (err) {
      for (const w of writes) w.failed(err);
      return;
    }
    for (let i = 0; i < writes.length; i++) writes[i]!.done([String(reply[2 * i]), Number(reply[2 * i + 1])]);
  }
}

/**
 * Streams in Redis, shared by every instance: a hash `stream:{name}` {seq, epoch, rid, bytes} and a
 * list `history:{name}` of entries (JSON), capped in count and in bytes (`bytes`: the list's total).
 * Both expire together 1.5 to 2 times the history age after their last use, after which the stream starts a
 * new epoch. Every append is part of one script call (APPEND, through the RedisAppender): lease,
 * numbering, history, de-duplication and the hand-out to every instance happen in one atomic step.
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
    private readonly appender = new RedisAppender(client, options),
  ) {
    this.keepMs = Math.max(1, options.limits.ttlMs * 2);
    this.lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.keys = redisKeys(options.prefix);
  }

  /** Waits while a join holds the stream's lock (the writer takes no lock itself). */
  async append(write: StreamWrite<T>, lease: Lease): Promise<Appended> {
    let [outcome] = await this.appender.write(write, lease);
    if (outcome === 'locked') {
      [outcome] = await poll('append', this.lockTtlMs * 2, async () => {
        const reply = await this.appender.write(write, lease);
        return reply[0] === 'locked' ? undefined : reply;
      });
    }
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

/** How every entry the APPEND script publishes begins: its stream comes first, unescaped (stream names need none). */
const ENTRY_START = Buffer.from('{"stream":"');
const QUOTE = 0x22;

/**
 * The stream an entry's JSON names, read from its first bytes without decoding or parsing the rest;
 * undefined when it does not begin as APPEND writes it.
 */
export function streamOfEntry(json: Buffer): string | undefined {
  if (json.length <= ENTRY_START.length || json.compare(ENTRY_START, 0, ENTRY_START.length, 0, ENTRY_START.length) !== 0) return undefined;
  const end = json.indexOf(QUOTE, ENTRY_START.length);
  return end < 0 ? undefined : json.toString('utf8', ENTRY_START.length, end);
}

/**
 * The entries every append publishes, received on a subscriber connection of this instance's own
 * and handed to its room feeds. Pub/sub keeps nothing: after a reconnection (the subscription is
 * confirmed before `ready`), `resubscribed` lets the feeds catch up from history. An entry of a stream
 * this instance has no socket for is dropped before it is parsed: with many instances, most are.
 */
export class RedisEntrySubscription<T> {
  private sink: EntrySink<T> = () => undefined;
  private resubscribed: () => void = () => undefined;
  private wants: (stream: string) => boolean = () => true;
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

  /**
   * Where entries go; `resubscribed` runs after every reconnection (entries may have been missed);
   * `wants` says which streams' entries are of use here.
   */
  listen(sink: EntrySink<T>, resubscribed: () => void, wants?: (stream: string) => boolean): void {
    this.sink = sink;
    this.resubscribed = resubscribed;
    if (wants) this.wants = wants;
  }

  /** Subscribes (the client is connected by its owner). */
  async start(): Promise<void> {
    // In buffer mode: an entry no socket here wants is never decoded into a string.
    const asBuffers = true;
    await this.sub.subscribe(
      this.channel,
      (json) => {
        const stream = streamOfEntry(json);
        if (stream !== undefined && !this.wants(stream)) return;
        this.sink(JSON.parse(json.toString()) as StreamEntry<T>);
      },
      asBuffers,
    );
  }
}
