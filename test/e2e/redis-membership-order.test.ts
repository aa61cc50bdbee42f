import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisFence, RedisMembershipStore } from '../../src/state/redis-stores.js';
import { FencedError } from '../../src/state/stores.js';
import { redisUrl } from '../helpers/bridge.js';
import { deleteKeys } from '../helpers/cluster.js';
import { ORDER_CASES } from '../helpers/membership-order.js';

const run = `test:redis-membership:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
let tests = 0;

describe.skipIf(!redisUrl)('Redis membership facts, ordered by their time', { timeout: 10_000 }, () => {
  const url = redisUrl!;
  let one: RedisClientType;
  let two: RedisClientType;
  /** A deployment of its own per test, whose keys are deleted after it. */
  let prefix: string;

  beforeAll(async () => {
    [one, two] = [createClient({ url }), createClient({ url })];
    for (const c of [one, two]) c.on('error', () => undefined);
    await Promise.all([one.connect(), two.connect()]);
  });

  beforeEach(() => {
    prefix = `${run}:${tests++}:`;
  });

  afterEach(async () => {
    await deleteKeys(url, `${prefix}*`);
  });

  afterAll(async () => {
    await Promise.all([one, two].map((c) => (c?.isOpen ? c.quit() : undefined)));
  });

  const store = (client: RedisClientType, ttlMs = 60_000) => new RedisMembershipStore(client, { prefix, limits: { maxFacts: 10, ttlMs } });

  it.each(ORDER_CASES)('$name', async ({ user, facts, outcomes, kept }) => {
    const lease = await new RedisFence(one, prefix).acquire();
    const membership = store(one);
    const got = [];
    for (const fact of facts) got.push(await membership.record('t1', user, fact, lease));
    expect(got).toEqual(outcomes);
    const { member, deleted } = await store(two).lookup('t1', user ?? 'anyone');
    expect(user === undefined ? deleted : member).toEqual(kept);
  });

  it('decides concurrent facts from two instances by time, whichever lands last', async () => {
    const lease = await new RedisFence(one, prefix).acquire();
    const [a, b] = [store(one), store(two)];
    const facts = Array.from({ length: 40 }, (_, i) => ({ change: i % 2 ? ('added' as const) : ('removed' as const), at: 1_000 + ((i * 17) % 40) }));
    await Promise.all(facts.map((fact, i) => (i % 2 ? a : b).record('t1', 'u1', fact, lease)));
    const latest = facts.reduce((x, y) => (y.at > x.at ? y : x));
    expect(await a.lookup('t1', 'u1')).toEqual({ member: latest });
  });

  it('leaves a stale fact\'s key and time limit as they were', async () => {
    const lease = await new RedisFence(one, prefix).acquire();
    const membership = store(one);
    await membership.record('t1', 'u1', { change: 'removed', at: 200 }, lease);
    const key = `${prefix}member:t1/u1`;
    await one.pExpire(key, 5_000);
    expect(await membership.record('t1', 'u1', { change: 'added', at: 100 }, lease)).toBe('stale');
    expect(await one.pTTL(key)).toBeLessThanOrEqual(5_000);
    expect(await one.get(key)).toBe(JSON.stringify({ change: 'removed', at: 200 }));
  });

  it('records any fact again once the stored one has expired', async () => {
    const lease = await new RedisFence(one, prefix).acquire();
    const membership = store(one, 100);
    await membership.record('t1', 'u1', { change: 'removed', at: 200 }, lease);
    await new Promise((r) => setTimeout(r, 250));
    expect(await membership.record('t1', 'u1', { change: 'added', at: 100 }, lease)).toBe('recorded');
  });

  it('still refuses any fact under a replaced lease, stale or not, changing nothing', async () => {
    const fence = new RedisFence(one, prefix);
    const old = await fence.acquire();
    const membership = store(one);
    await membership.record('t1', 'u1', { change: 'added', at: 100 }, old);
    await fence.acquire();
    await expect(membership.record('t1', 'u1', { change: 'removed', at: 200 }, old)).rejects.toBeInstanceOf(FencedError);
    await expect(membership.record('t1', 'u1', { change: 'removed', at: 50 }, old)).rejects.toBeInstanceOf(FencedError);
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: 100 } });
  });
});
