import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorReply, type RedisClientType } from 'redis';
import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { KeyedLock } from './keyed-lock.js';
import {
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  DEFAULT_MEMBERSHIP,
  type DedupeLimits,
  type HistoryLimits,
  type MembershipLimits,
} from './memory-stores.js';
import {
  StoreUnavailableError,
  type Claim,
  type DedupeStore,
  type MembershipFact,
  type MembershipStore,
  type Recovery,
  type StreamHead,
  type StreamLock,
  type StreamStore,
} from './stores.js';

type Reply = Awaited<ReturnType<RedisClientType['eval']>>;

/**
 * How long a stream's lock lasts unless released: longer than its longest task (a join, whose presence
 * lookup asks every instance, at most CLUSTER_REQUEST_TIMEOUT_MS), short enough that a trip whose
 * instance died while holding it waits only a few seconds.
 */
export const DEFAULT_LOCK_TTL_MS = 5_000;

/** The lock of a stream (its braces put it in the stream's cluster slot, beside the stream's keys). */
const lockKey = (prefix: string, stream: string) => `${prefix}lock:{${stream}}`;

/** Runs one exchange with Redis; whatever fails in it is the store's failure, never the event's. */
async function redis<R>(what: string, exchange: () => Promise<R>): Promise<R> {
  try {
    return await exchange();
  } catch (err) {
    throw new StoreUnavailableError(`redis ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Repeats an exchange until it answers (undefined: a lock is held), with a growing back-off (2 to
 * 50 ms); gives up after `timeoutMs` with StoreUnavailableError, when the holder must be gone.
 */
async function poll<R>(what: string, timeoutMs: number, exchange: () => Promise<R | undefined>): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const result = await redis(what, exchange);
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new StoreUnavailableError(`redis ${what}: still locked after ${timeoutMs} ms`);
    await sleep(delay);
  }
}

/** A Lua script run by its SHA1: the source goes over the wire only when the server does not know it yet. */
class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClientType, keys: string[], args: Array<string | number>): Promise<Reply> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha, options);
    } catch (err) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) return client.eval(this.source, options);
      throw err;
    }
  }
}

/** KEYS: hash, history. ARGV: a new epoch, expiry (ms). Reads the head, starting a new epoch if the stream was forgotten. */
const OPEN = `
local seq, epoch = unpack(redis.call('HMGET', KEYS[1], 'seq', 'epoch'))
if not seq then
  seq, epoch = 0, ARGV[1]
  redis.call('HSET', KEYS[1], 'seq', 0, 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;
/**
 * OPEN, then with ARGV[3] = an event id, reserves a position for it. Returns {seq, epoch, kept}: kept
 * is 1 when the last message kept was that event's (its handler died after keeping it). A position
 * reserved but never kept (its writer died in between) is given again, so that no seq goes missing.
 * While a join holds the stream's lock (KEYS[3]), returns seq -1: the writer waits its turn.
 * Without an event id, returns the head: the last position kept, not the last reserved, so that a
 * join between the two steps of an append sees the history it can replay.
 */
const POSITION = new Script(`${OPEN}
local kept, lastId = unpack(redis.call('HMGET', KEYS[1], 'kept', 'lastId'))
kept = tonumber(kept or '0')
if ARGV[3] == '' then return {kept, epoch, 0} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {-1, epoch, 0} end
if kept == tonumber(seq) and lastId == ARGV[3] and kept > 0 then return {kept, epoch, 1} end
if kept == tonumber(seq) then seq = redis.call('HINCRBY', KEYS[1], 'seq', 1) end
return {tonumber(seq), epoch, 0}`);
/** OPEN, then the head, and the history with the server's clock (ms), so that instances with skewed clocks agree on age. */
const SINCE = new Script(`${OPEN}
local t = redis.call('TIME')
return {tonumber(redis.call('HGET', KEYS[1], 'kept') or '0'), epoch, t[1] .. string.format('%03d', math.floor(t[2] / 1000)), redis.call('LRANGE', KEYS[2], 0, -1)}`);
/**
 * KEYS: hash, history, lock. ARGV: epoch, seq, message JSON, size, expiry, event id. Keeps a message
 * (1), unless its epoch is gone or its position was kept meanwhile (0), or a join holds the stream's
 * lock (-1: the writer waits its turn).
 */
const KEEP = new Script(`
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local epoch, kept = unpack(redis.call('HMGET', KEYS[1], 'epoch', 'kept'))
if epoch ~= ARGV[1] or tonumber(kept or '0') >= tonumber(ARGV[2]) then return 0 end
local t = redis.call('TIME')
local at = t[1] .. string.format('%03d', math.floor(t[2] / 1000))
redis.call('RPUSH', KEYS[2], '{"seq":' .. ARGV[2] .. ',"at":' .. at .. ',"message":' .. ARGV[3] .. '}')
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('HSET', KEYS[1], 'kept', ARGV[2], 'lastId', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`);
/** KEYS: key. ARGV: value. Deletes the key only while it still holds that value (our claim, our lock token). */
const DELETE_IF = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);
/** KEYS: key. ARGV: claim ttl (ms), '1' to take over a claim held elsewhere. Claims an id, or says whether it is done or held. */
const CLAIM = new Script(`
if redis.call('SET', KEYS[1], 'pending', 'NX', 'PX', ARGV[1]) then return 'new' end
if redis.call('GET', KEYS[1]) == 'done' then return 'seen' end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], 'pending', 'PX', ARGV[1])
  return 'new'
end
return 'busy'`);

/**
 * Streams in Redis, shared by every instance: a hash `<prefix>stream:{name}` {seq (last reserved),
 * kept (last kept: the head), lastId (its event), epoch} and a list `<prefix>history:{name}` of
 * `{seq, at, message}` JSON (the braces keep both in one cluster slot).
 * Both expire after twice the history age without an append, after which the stream starts a new epoch.
 */
export class RedisStreamStore<T> implements StreamStore<T> {
  private readonly bootId = randomBytes(6).toString('base64url');
  private created = 0;
  private readonly keepMs: number;
  private readonly lockTtlMs: number;

  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; limits: HistoryLimits; lockTtlMs?: number },
  ) {
    this.keepMs = Math.max(1, options.limits.ttlMs * 2);
    this.lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
  }

  /**
   * Two steps: reserve the position (atomic), build, then keep the message (atomic). One writer per
   * stream at a time is the caller's to ensure (the consumer's lane per trip, and the claim on each
   * event across instances); a position whose writer died between the steps is given to the next
   * append, so history has no gap. Both steps wait while a join holds the stream's lock (see
   * RedisStreamLock): the writer takes no lock itself, which saves it two round trips per event.
   */
  async append(stream: string, eventId: string, build: (head: StreamHead) => T): Promise<T> {
    const keys = this.keys(stream);
    const [seq, epoch, kept] = await poll('append', this.lockTtlMs * 2, async () => {
      const reply = await POSITION.run(this.client, keys, [this.newEpoch(), this.keepMs, eventId]);
      const position = reply as [number, string, number];
      return position[0] === -1 ? undefined : position;
    });
    if (kept === 1) {
      const last = await redis('append', () => this.client.lIndex(keys[1]!, -1));
      if (last !== null) return (JSON.parse(last) as { message: T }).message;
    }
    const message = build({ seq, epoch });
    const args = [epoch, seq, JSON.stringify(message), this.options.limits.size, this.keepMs, eventId];
    const stored = await poll('append', this.lockTtlMs * 2, async () => {
      const reply = (await KEEP.run(this.client, keys, args)) as number;
      return reply === -1 ? undefined : reply;
    });
    if (stored !== 1) throw new StoreUnavailableError(`redis append: ${stream} changed while its message was built`);
    return message;
  }

  async head(stream: string): Promise<StreamHead> {
    return this.position(stream);
  }

  /** As the memory store, and stricter: recovered only when history holds every seq after `position` up to the head. */
  async since(stream: string, position: StreamHead): Promise<Recovery<T>> {
    const reply = await redis('since', () => SINCE.run(this.client, this.keys(stream), [this.newEpoch(), this.keepMs]));
    const [seq, epoch, now, entries] = reply as [number, string, string, string[]];
    const head = { seq, epoch };
    if (position.epoch !== epoch || position.seq > seq) return { recovered: false, head };
    const cutoff = Number(now) - this.options.limits.ttlMs;
    const missed = entries
      .map((entry) => JSON.parse(entry) as { seq: number; at: number; message: T })
      .filter((entry) => entry.at >= cutoff && entry.seq > position.seq);
    const complete = missed.length === seq - position.seq && missed.every((e, i) => e.seq === position.seq + 1 + i);
    return complete ? { recovered: true, head, messages: missed.map((e) => e.message) } : { recovered: false, head };
  }

  async drop(stream: string): Promise<void> {
    await redis('drop', () => this.client.del(this.keys(stream)));
  }

  /** The client is shared and closed by its owner. */
  async close(): Promise<void> {}

  private async position(stream: string): Promise<StreamHead> {
    const args = [this.newEpoch(), this.keepMs, ''];
    const reply = await redis('position', () => POSITION.run(this.client, this.keys(stream), args));
    const [seq, epoch] = reply as [number, string];
    return { seq, epoch };
  }

  /** The stream's hash, its history, and the lock a join holds (named as RedisStreamLock names it). */
  private keys(stream: string): string[] {
    const { prefix } = this.options;
    return [`${prefix}stream:{${stream}}`, `${prefix}history:{${stream}}`, lockKey(prefix, stream)];
  }

  /** Offered on every call, used only when the stream is new: unique per store instance and call. */
  private newEpoch(): string {
    return `${this.bootId}.${(this.created++).toString(36)}`;
  }
}

/**
 * How long an instance's claim on an event lasts before another may take the event over: longer than
 * handling one event takes with its retries (about 1.1 s of pauses). A redelivered message does not
 * wait for it (it takes the claim over at once); this bounds the other cases to a few seconds.
 */
export const DEFAULT_CLAIM_TTL_MS = 5_000;

/**
 * The de-duplication window in Redis, `<prefix>dedupe:<id>` = `pending` (for claimTtlMs) or `done`
 * (for windowMs). A redelivery takes a pending claim over; anything else waits for it at most claimTtlMs.
 */
export class RedisDedupeStore implements DedupeStore {
  private readonly claimTtlMs: number;

  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; windowMs: number; claimTtlMs?: number },
  ) {
    this.claimTtlMs = options.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS;
  }

  async claim(id: string, takeOver = false): Promise<Claim> {
    return (await redis('claim', () => CLAIM.run(this.client, [this.key(id)], [this.claimTtlMs, takeOver ? 1 : 0]))) as Claim;
  }

  async complete(id: string): Promise<void> {
    await redis('complete', () => this.client.set(this.key(id), 'done', { PX: this.options.windowMs }));
  }

  /** Only a claim still pending: an id completed meanwhile stays seen. */
  async release(id: string): Promise<void> {
    await redis('release', () => DELETE_IF.run(this.client, [this.key(id)], ['pending']));
  }

  async close(): Promise<void> {}

  private key(id: string): string {
    return `${this.options.prefix}dedupe:${id}`;
  }
}

/** Membership facts in Redis as JSON strings with a time limit: `<prefix>member:<trip>/<user>`, `<prefix>deleted:<trip>`. */
export class RedisMembershipStore implements MembershipStore {
  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; limits: MembershipLimits },
  ) {}

  async record(tripId: string, userId: string, fact: MembershipFact): Promise<void> {
    await this.set(this.memberKey(tripId, userId), fact);
  }

  async recordDeleted(tripId: string, at: number): Promise<void> {
    await this.set(this.deletedKey(tripId), { change: 'deleted', at });
  }

  async lookup(tripId: string, userId: string): Promise<{ member?: MembershipFact; deleted?: MembershipFact }> {
    const keys = [this.memberKey(tripId, userId), this.deletedKey(tripId)];
    const [member, deleted] = await redis('lookup', () => this.client.mGet(keys));
    return {
      ...(member ? { member: JSON.parse(member) as MembershipFact } : {}),
      ...(deleted ? { deleted: JSON.parse(deleted) as MembershipFact } : {}),
    };
  }

  async close(): Promise<void> {}

  private async set(key: string, fact: MembershipFact): Promise<void> {
    await redis('record', () => this.client.set(key, JSON.stringify(fact), { PX: this.options.limits.ttlMs }));
  }

  // '/' cannot appear in an identifier, so that no trip and user pair collides with another.
  private memberKey(tripId: string, userId: string): string {
    return `${this.options.prefix}member:${tripId}/${userId}`;
  }

  private deletedKey(tripId: string): string {
    return `${this.options.prefix}deleted:${tripId}`;
  }
}

/**
 * A StreamLock across instances, taken by joins: `<prefix>lock:{key}` holds the holder's token for at
 * most ttlMs (so a dead holder blocks no one for longer). Appends take no lock: RedisStreamStore waits
 * while one is held. Tasks of this process first queue in memory (`local`, which appends of this
 * process also take), so that only one per key polls Redis.
 */
export class RedisStreamLock implements StreamLock {
  readonly local = new KeyedLock();
  private readonly ttlMs: number;
  /** Tokens: unique per lock object (a random prefix) and per acquisition (a counter). */
  private readonly tokenPrefix = randomBytes(9).toString('base64url');
  private acquisitions = 0;

  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; ttlMs?: number },
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  }

  run<T>(key: string, task: () => Promise<T> | T): Promise<T> {
    return this.local.run(key, async () => {
      const name = lockKey(this.options.prefix, key);
      const token = await this.acquire(name);
      try {
        return await task();
      } finally {
        // A failed release is not the task's failure: the lock expires by itself.
        await DELETE_IF.run(this.client, [name], [token]).catch(() => undefined);
      }
    });
  }

  /** Gives up after twice the ttl, when the holder must be gone. */
  private async acquire(name: string): Promise<string> {
    const token = `${this.tokenPrefix}.${(this.acquisitions++).toString(36)}`;
    return poll('lock', this.ttlMs * 2, async () =>
      (await this.client.set(name, token, { NX: true, PX: this.ttlMs })) === 'OK' ? token : undefined,
    );
  }
}

export interface RedisStoresOptions {
  prefix: string;
  history?: HistoryLimits;
  dedupe?: Pick<DedupeLimits, 'windowMs'> & { claimTtlMs?: number };
  membership?: MembershipLimits;
  lockTtlMs?: number;
}

/** Every shared store over one client; trip and user streams share the prefix, as their names differ. */
export function createRedisStores(client: RedisClientType, options: RedisStoresOptions) {
  const { prefix, history = DEFAULT_HISTORY, dedupe = DEFAULT_DEDUPE, membership = DEFAULT_MEMBERSHIP } = options;
  const { lockTtlMs } = options;
  const lock = new RedisStreamLock(client, { prefix, ttlMs: lockTtlMs });
  return {
    trips: new RedisStreamStore<TripUpdatedMessage>(client, { prefix, limits: history, lockTtlMs }),
    users: new RedisStreamStore<NotificationMessage>(client, { prefix, limits: history, lockTtlMs }),
    dedupe: new RedisDedupeStore(client, { prefix, ...dedupe }),
    membership: new RedisMembershipStore(client, { prefix, limits: membership }),
    lock,
    /** Appends take only the local lock: across instances the stores wait for joins themselves. */
    writeLock: lock.local,
  };
}
