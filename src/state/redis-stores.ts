import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { KeyedLock } from './keyed-lock.js';
import type { NowOrLater } from './now-or-later.js';
import {
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  DEFAULT_MEMBERSHIP,
  type DedupeLimits,
  type HistoryLimits,
  type MembershipLimits,
} from './memory-stores.js';
import { DELETE_IF, poll, RECORD_FACT, redis } from './redis-scripts.js';
import { DEFAULT_LOCK_TTL_MS, RedisAppender, redisKeys, RedisEntrySubscription, RedisStreamStore } from './redis-streams.js';
import {
  FencedError,
  StoreUnavailableError,
  type DedupeStore,
  type Fence,
  type Lease,
  type MembershipFact,
  type MembershipStore,
  type Recorded,
  type StreamLock,
} from './stores.js';

/**
 * The writer's lease in Redis (`<prefix>fence`): acquiring sets a token of this instance's own, which
 * voids every other, since every write compares the key with its lease in the same script. The key
 * has no expiry: when Redis loses it, every write is refused until a consumer acquires again.
 */
export class RedisFence implements Fence {
  private readonly tokenPrefix = randomBytes(9).toString('base64url');
  private leases = 0;

  constructor(
    private readonly client: RedisClientType,
    private readonly prefix: string,
  ) {}

  async acquire(): Promise<Lease> {
    const token = `${this.tokenPrefix}.${(this.leases++).toString(36)}`;
    await redis('fence', () => this.client.set(redisKeys(this.prefix).fence, token));
    return { token };
  }
}

/** The de-duplication window of broadcasts in Redis: `<prefix>broadcast:<id>`, for windowMs. */
export class RedisDedupeStore implements DedupeStore {
  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; windowMs: number },
  ) {}

  async seen(id: string): Promise<boolean> {
    return (await redis('dedupe', () => this.client.exists(this.key(id)))) === 1;
  }

  async remember(id: string): Promise<void> {
    await redis('dedupe', () => this.client.set(this.key(id), '1', { PX: this.options.windowMs }));
  }

  async close(): Promise<void> {}

  private key(id: string): string {
    return `${this.options.prefix}broadcast:${id}`;
  }
}

/**
 * Membership facts in Redis as JSON strings with a time limit: `<prefix>member:<trip>/<user>`,
 * `<prefix>deleted:<trip>`. Recorded only under the writer's valid lease (a consumer that lost its
 * channel writes nothing more), and only when not older than the kept fact (a late event, or a
 * publisher's retry, cannot undo a later change): both checks and the write are one script.
 */
export class RedisMembershipStore implements MembershipStore {
  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; limits: MembershipLimits },
  ) {}

  async record(tripId: string, userId: string | undefined, fact: MembershipFact, lease: Lease): Promise<Recorded> {
    const key = userId === undefined ? this.deletedKey(tripId) : this.memberKey(tripId, userId);
    const keys = [redisKeys(this.options.prefix).fence, key];
    const args = [lease.token, JSON.stringify({ change: fact.change, at: fact.at }), this.options.limits.ttlMs];
    const outcome = await redis('record', () => RECORD_FACT.run(this.client, keys, args));
    if (outcome === 'fenced') throw new FencedError(`lease ${lease.token} is no longer valid`);
    if (outcome !== 'recorded' && outcome !== 'stale') throw new StoreUnavailableError(`redis record: answered ${String(outcome)}`);
    return outcome;
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
 * most ttlMs (so a dead holder blocks no one for longer). Appends take no lock: the APPEND script
 * waits while one is held. Tasks of this process first queue in memory (`local`, which appends of
 * this process also take), so that only one per key polls Redis.
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

  run<T>(key: string, task: () => NowOrLater<T>): Promise<T> {
    // An async task: the local lock answers later, always.
    return this.local.run(key, async () => {
      const name = redisKeys(this.options.prefix).lock(key);
      const token = await this.acquire(name);
      try {
        return await task();
      } finally {
        // A failed release is not the task's failure: the lock expires by itself.
        await DELETE_IF.run(this.client, [name], [token]).catch(() => undefined);
      }
    }) as Promise<T>;
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
  dedupe?: Pick<DedupeLimits, 'windowMs'>;
  membership?: MembershipLimits;
  lockTtlMs?: number;
}

/**
 * Every shared store over one client, and the subscription (on `sub`, a connection of its own) that
 * hands every instance the entries appended by any of them.
 */
export function createRedisStores(client: RedisClientType, sub: RedisClientType, options: RedisStoresOptions) {
  const { prefix, history = DEFAULT_HISTORY, dedupe = DEFAULT_DEDUPE, membership = DEFAULT_MEMBERSHIP, lockTtlMs } = options;
  const lock = new RedisStreamLock(client, { prefix, ttlMs: lockTtlMs });
  const streamOptions = { prefix, limits: history, windowMs: dedupe.windowMs, lockTtlMs };
  // One appender for both kinds of streams: a turn's trip entries and notifications share one call.
  const appender = new RedisAppender(client, streamOptions);
  return {
    fence: new RedisFence(client, prefix),
    trips: new RedisStreamStore<TripUpdatedMessage>(client, streamOptions, appender),
    users: new RedisStreamStore<NotificationMessage>(client, streamOptions, appender),
    entries: new RedisEntrySubscription<TripUpdatedMessage | NotificationMessage>(sub, redisKeys(prefix).entries),
    dedupe: new RedisDedupeStore(client, { prefix, windowMs: dedupe.windowMs }),
    membership: new RedisMembershipStore(client, { prefix, limits: membership }),
    lock,
    /** Appends take only the local lock: across instances the APPEND script waits for joins itself. */
    writeLock: lock.local,
  };
}
