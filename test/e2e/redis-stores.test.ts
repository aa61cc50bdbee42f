import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TripUpdatedMessage } from '../../contracts/index.js';
import { redisRateLimiters } from '../../src/auth/rate-limiter.js';
import { KeyedLock } from '../../src/state/keyed-lock.js';
import { DEFAULT_HISTORY, type HistoryLimits } from '../../src/state/memory-stores.js';
import {
  createRedisStores,
  RedisDedupeStore,
  RedisFence,
  RedisMembershipStore,
  RedisStreamLock,
} from '../../src/state/redis-stores.js';
import { redisKeys, RedisStreamStore, streamOfEntry } from '../../src/state/redis-streams.js';
import {
  FencedError,
  StoreUnavailableError,
  type Lease,
  type StreamEntry,
  type StreamHead,
  type StreamWrite,
} from '../../src/state/stores.js';
import { redisUrl } from '../helpers/bridge.js';
import { until } from '../helpers/client.js';
import { deleteKeys, hasRedisServer, PrivateRedis } from '../helpers/cluster.js';

/** What the tests write: a text, to which the store adds the message's place. */
interface Note {
  seq: number;
  epoch: string;
  text: string;
}

type Extra = Partial<Omit<StreamWrite<Note>, 'stream' | 'message'>>;

const SLOW = { timeout: 10_000 };
const run = `test:redis-stores:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
let tests = 0;
let events = 0;

/** Every client a test opened, closed after it. */
const opened: RedisClientType[] = [];

/**
 * A client as a bridge instance builds it: failing at once rather than queueing while offline, and
 * reconnecting every `reconnectMs` if given; connected unless `connectNow` is false.
 */
async function connect(url: string, reconnectMs?: number, connectNow = true): Promise<RedisClientType> {
  const reconnectStrategy = reconnectMs === undefined ? (false as const) : () => reconnectMs;
  const client: RedisClientType = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy } });
  client.on('error', () => undefined);
  if (connectNow) await client.connect();
  return client;
}

/** A client of this test only (see connect). */
async function open(url: string, reconnectMs?: number, connectNow = true): Promise<RedisClientType> {
  const client = await connect(url, reconnectMs, connectNow);
  opened.push(client);
  return client;
}

async function closeAll(): Promise<void> {
  for (const client of opened.splice(0)) {
    if (client.isOpen) await client.quit().catch(() => client.disconnect().catch(() => undefined));
  }
}

function streamStore(client: RedisClientType, prefix: string, options: { limits?: Partial<HistoryLimits>; windowMs?: number; lockTtlMs?: number } = {}) {
  const limits = { ...DEFAULT_HISTORY, ...options.limits };
  return new RedisStreamStore<Note>(client, { prefix, limits, windowMs: options.windowMs ?? 60_000, lockTtlMs: options.lockTtlMs });
}

/** Appends a new event (`evt-<n>`, text `n<n>`) to a stream, under `lease`. */
function writer(store: RedisStreamStore<Note>, lease: Lease) {
  return (stream: string, extra: Extra = {}, under: Lease = lease) => {
    const n = events++;
    return store.append({ stream, eventId: `evt-${n}`, message: { text: `n${n}` }, ...extra }, under);
  };
}

/** Every entry published on the deployment's `entries` channel, on a subscriber connection of its own. */
async function subscribe(url: string, prefix: string) {
  const sub = await open(url);
  const raw: string[] = [];
  await sub.subscribe(redisKeys(prefix).entries, (json) => raw.push(json));
  return { raw, entries: () => raw.map((json) => JSON.parse(json) as StreamEntry<Note>) };
}

/** The entries of a stream after `seq` of `epoch`, or a failure naming what since() said. */
async function kept(store: RedisStreamStore<Note>, stream: string, position: StreamHead): Promise<Array<StreamEntry<Note>>> {
  const recovery = await store.since(stream, position);
  if (!recovery.recovered) throw new Error(`not recovered: ${JSON.stringify(recovery)}`);
  return recovery.entries;
}

describe.skipIf(!redisUrl)('the Redis stores shared by bridge instances', () => {
  const url = redisUrl!;
  let one: RedisClientType;
  let two: RedisClientType;
  /** A key prefix of its own per test (a deployment), whose keys are deleted after it. */
  let prefix: string;
  let keys: ReturnType<typeof redisKeys>;

  beforeAll(async () => {
    [one, two] = await Promise.all([connect(url), connect(url)]);
  });

  beforeEach(() => {
    prefix = `${run}:${tests++}:`;
    keys = redisKeys(prefix);
  });

  afterEach(async () => {
    await closeAll();
    await deleteKeys(url, `${prefix}*`);
  });

  afterAll(async () => {
    await Promise.all([one, two].map((c) => (c?.isOpen ? c.quit() : undefined)));
  });

  /** A fence, a lease from it, and a store on `client` writing under it. */
  async function setup(client = one, options: Parameters<typeof streamStore>[2] = {}) {
    const fence = new RedisFence(client, prefix);
    const lease = await fence.acquire();
    const store = streamStore(client, prefix, options);
    return { fence, lease, store, write: writer(store, lease) };
  }

  describe('numbering', () => {
    it('counts appends 1, 2, 3 in the epoch the head showed, with the server clock', async () => {
      const { store, write } = await setup();
      const head = await store.head('trip:t1');
      expect(head).toEqual({ seq: 0, epoch: expect.stringMatching(/.+/), at: expect.any(Number) });
      expect(Math.abs(head.at - Date.now())).toBeLessThan(5_000);
      expect([await write('trip:t1'), await write('trip:t1'), await write('trip:t1')]).toEqual(['appended', 'appended', 'appended']);
      expect(await store.head('trip:t1')).toMatchObject({ seq: 3, epoch: head.epoch });
      const entries = await kept(store, 'trip:t1', { seq: 0, epoch: head.epoch });
      expect(entries.map((e) => [e.seq, e.message.seq, e.message.epoch])).toEqual([1, 2, 3].map((s) => [s, s, head.epoch]));
    });

    it('keeps one epoch for a stream whichever instance reads it first', async () => {
      const [a, b] = await Promise.all([streamStore(one, prefix).head('trip:t1'), streamStore(two, prefix).head('trip:t1')]);
      expect({ seq: a.seq, epoch: a.epoch }).toEqual({ seq: b.seq, epoch: b.epoch });
    });

    it('numbers each stream on its own', async () => {
      const { store, write } = await setup();
      await write('trip:a');
      await write('trip:a');
      await write('user:b');
      expect((await store.head('trip:a')).seq).toBe(2);
      expect((await store.head('user:b')).seq).toBe(1);
    });

    it('numbers concurrent appends from two connections consecutively, each once', async () => {
      const { lease, store } = await setup();
      const other = writer(streamStore(two, prefix), lease);
      const mine = writer(store, lease);
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? mine : other)('trip:t1')));
      expect(outcomes.every((o) => o === 'appended')).toBe(true);
      const { epoch } = await store.head('trip:t1');
      const entries = await kept(store, 'trip:t1', { seq: 0, epoch });
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(entries.map((e) => e.message.text)).size).toBe(20);
    });
  });

  describe('one call per turn', () => {
    /** A client that records each script call it makes. */
    function counting(client: RedisClientType) {
      const calls: number[] = [];
      const counted = new Proxy(client, {
        get(target, name) {
          if (name === 'evalSha' || name === 'eval') {
            return (sha: string, options: { keys: string[] }) => {
              calls.push(options.keys.length);
              return (target[name] as (s: string, o: unknown) => Promise<unknown>)(sha, options);
            };
          }
          const value = Reflect.get(target, name) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      return { calls, counted };
    }

    it('sends the appends of one turn, to several streams, as one script call per lease, each with its own outcome', async () => {
      const { calls, counted } = counting(one);
      const fence = new RedisFence(one, prefix);
      const stale = await fence.acquire();
      const lease = await fence.acquire();
      const store = streamStore(counted, prefix);
      const append = (stream: string, eventId: string, under = lease) => store.append({ stream, eventId, message: { text: eventId } }, under);
      expect(await append('trip:dup', 'evt-dup')).toBe('appended');
      calls.length = 0;
      const outcomes = await Promise.allSettled([
        append('trip:a', 'evt-a'),
        append('trip:b', 'evt-b'),
        append('user:c', 'evt-c'),
        append('trip:dup', 'evt-dup'),
        append('trip:d', 'evt-d', stale),
      ]);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).name))).toEqual([
        'appended',
        'appended',
        'appended',
        'duplicate',
        'FencedError',
      ]);
      // One call under the valid lease (the fence and four writes of four keys each), one under the stale one.
      expect(calls.sort((x, y) => x - y)).toEqual([1 + 4, 1 + 4 * 4]);
      for (const stream of ['trip:a', 'trip:b', 'user:c']) expect((await store.head(stream)).seq).toBe(1);
      expect((await store.head('trip:d')).seq).toBe(0);
    });

    it('numbers each stream on its own within one call, whatever the epoch each stream starts', async () => {
      const { lease, store } = await setup();
      const streams = Array.from({ length: 70 }, (_, i) => `trip:many-${i}`);
      // More than one call carries: split, and each stream still numbered once.
      const outcomes = await Promise.all(streams.map((stream, i) => store.append({ stream, eventId: `evt-${i}`, message: { text: stream } }, lease)));
      expect(outcomes.every((o) => o === 'appended')).toBe(true);
      const heads = await Promise.all(streams.map((stream) => store.head(stream)));
      expect(heads.every((h) => h.seq === 1)).toBe(true);
      expect(new Set(heads.map((h) => h.epoch)).size).toBe(streams.length);
    });
  });

  describe('history', () => {
    it('returns every entry after a position, in order, with the head and the server clock; nothing missed at the head', async () => {
      const { store, write } = await setup();
      for (let i = 0; i < 5; i++) await write('trip:t1');
      const { seq, epoch } = await store.head('trip:t1');
      const recovery = await store.since('trip:t1', { seq: 2, epoch });
      expect(recovery).toEqual({ recovered: true, head: { seq: 5, epoch }, entries: expect.any(Array), at: expect.any(Number) });
      const entries = recovery.recovered ? recovery.entries : [];
      expect(entries.map((e) => e.seq)).toEqual([3, 4, 5]);
      for (const entry of entries) {
        expect(entry).toEqual({ stream: 'trip:t1', seq: entry.seq, at: expect.any(Number), message: { text: expect.any(String), seq: entry.seq, epoch } });
        expect(entry.at).toBeLessThanOrEqual(recovery.at);
      }
      expect(await store.since('trip:t1', { seq, epoch })).toEqual({ recovered: true, head: { seq, epoch }, entries: [], at: expect.any(Number) });
    });

    it('cannot recover across epochs, or from a position it never gave out', async () => {
      const { store, write } = await setup();
      await write('trip:t1');
      const { epoch } = await store.head('trip:t1');
      expect(await store.since('trip:t1', { seq: 0, epoch: 'another-epoch' })).toEqual({ recovered: false, head: { seq: 1, epoch }, at: expect.any(Number) });
      expect(await store.since('trip:t1', { seq: 7, epoch })).toMatchObject({ recovered: false });
    });

    it('cannot recover once the history no longer reaches back', async () => {
      const { store, write } = await setup(one, { limits: { size: 3 } });
      for (let i = 0; i < 5; i++) await write('trip:t1');
      const { epoch } = await store.head('trip:t1');
      expect(await one.lLen(keys.history('trip:t1'))).toBe(3);
      expect(await store.since('trip:t1', { seq: 1, epoch })).toMatchObject({ recovered: false, head: { seq: 5 } });
      expect((await kept(store, 'trip:t1', { seq: 2, epoch })).map((e) => e.seq)).toEqual([3, 4, 5]);
    });

    it('cannot recover entries older than the history age', SLOW, async () => {
      const { store, write } = await setup(one, { limits: { ttlMs: 1000 } });
      await write('trip:t1');
      await write('trip:t1');
      const { epoch } = await store.head('trip:t1');
      await sleep(1_100);
      await write('trip:t1');
      expect(await store.since('trip:t1', { seq: 0, epoch })).toMatchObject({ recovered: false, head: { seq: 3, epoch } });
      expect((await kept(store, 'trip:t1', { seq: 2, epoch })).map((e) => e.seq)).toEqual([3]);
    });

    it('arms the expiry of a stream\'s history with its first entry, as its head\'s', async () => {
      // Else a stream written once (a user's only notification) would keep its history for ever.
      const { write } = await setup(one, { limits: { ttlMs: 1000 } });
      await write('user:once');
      const [hash, history] = await Promise.all([one.pTTL(keys.stream('user:once')), one.pTTL(keys.history('user:once'))]);
      expect(hash).toBeGreaterThan(0);
      expect(history).toBeGreaterThan(0);
      expect(history).toBeLessThanOrEqual(2_000);
    });

    it('starts a stream whose keys expired again at seq 1 under a new epoch', async () => {
      const { store, write } = await setup(one, { limits: { ttlMs: 100 } });
      await write('trip:t1');
      await write('trip:t1');
      const before = await store.head('trip:t1');
      await sleep(400);
      await write('trip:t1');
      const after = await store.head('trip:t1');
      expect(after.seq).toBe(1);
      expect(after.epoch).not.toBe(before.epoch);
    });

    it('goes on numbering a stream whose history was deleted while its head lived on', async () => {
      const { store, write } = await setup();
      await write('trip:t1');
      await write('trip:t1');
      const { epoch } = await store.head('trip:t1');
      await one.del(keys.history('trip:t1'));
      expect(await write('trip:t1')).toBe('appended');
      expect(await store.head('trip:t1')).toMatchObject({ seq: 3, epoch });
      // What the history lost cannot be recovered; what came after it can.
      expect(await store.since('trip:t1', { seq: 0, epoch })).toMatchObject({ recovered: false, head: { seq: 3, epoch } });
      expect((await kept(store, 'trip:t1', { seq: 2, epoch })).map((e) => e.seq)).toEqual([3]);
    });

    it('starts a new epoch when a stream\'s head was deleted, with none of the old history', async () => {
      const { store, write } = await setup();
      await write('trip:t1');
      await write('trip:t1');
      const before = await store.head('trip:t1');
      await one.del(keys.stream('trip:t1'));
      await write('trip:t1');
      const after = await store.head('trip:t1');
      expect(after.seq).toBe(1);
      expect(after.epoch).not.toBe(before.epoch);
      expect(await store.since('trip:t1', { seq: 2, epoch: before.epoch })).toMatchObject({ recovered: false, head: { seq: 1, epoch: after.epoch } });
      expect((await kept(store, 'trip:t1', { seq: 0, epoch: after.epoch })).map((e) => e.seq)).toEqual([1]);
    });
  });

  describe('messages and entries', () => {
    it('keeps messages as JSON and gives them back equal, with seq and epoch spliced in, to since() and to every listener', SLOW, async () => {
      const sub = await open(url);
      const stores = createRedisStores(one, sub, { prefix });
      const received: Array<StreamEntry<unknown>> = [];
      let resubscribed = 0;
      stores.entries.listen((entry) => received.push(entry), () => resubscribed++);
      await stores.entries.start();
      const lease = await stores.fence.acquire();
      const message: Omit<TripUpdatedMessage, 'seq' | 'epoch'> = {
        eventId: 'evt-json',
        type: 'trip.updated',
        tripId: 't-json',
        time: new Date().toISOString(),
        source: 'test-suite',
        data: { tripId: 't-json', changes: { title: 'Lisbon "in" May \u2713 \\ \n \u2028 😀', nested: [1, null, { ok: true }], n: -0.5 } },
      };
      expect(await stores.trips.append({ stream: 'trip:t-json', eventId: 'evt-json', message }, lease)).toBe('appended');
      const note = { eventId: 'evt-note', type: 'info' as const, title: 'Hi', message: 'a "note"', time: new Date().toISOString() };
      expect(await stores.users.append({ stream: 'user:u1', eventId: 'evt-note', message: note }, lease)).toBe('appended');
      const { epoch } = await stores.trips.head('trip:t-json');
      const recovery = await stores.trips.since('trip:t-json', { seq: 0, epoch });
      expect(recovery.recovered && recovery.entries.map((e) => e.message)).toEqual([{ ...message, seq: 1, epoch }]);
      await until(() => received.length === 2, 5_000, 'both entries');
      expect(received[0]).toEqual(recovery.recovered && recovery.entries[0]);
      expect(received[1]).toMatchObject({ stream: 'user:u1', seq: 1, message: { ...note, seq: 1 } });
      expect(resubscribed).toBe(0);
    });

    it('hands a listener only the entries of streams it wants, naming each entry\'s stream without parsing it', SLOW, async () => {
      const sub = await open(url);
      const stores = createRedisStores(one, sub, { prefix });
      const received: Array<StreamEntry<unknown>> = [];
      const asked = new Set<string>();
      stores.entries.listen((entry) => received.push(entry), () => undefined, (stream) => (asked.add(stream), stream !== 'trip:nobody-here'));
      await stores.entries.start();
      const published = await subscribe(url, prefix);
      const lease = await stores.fence.acquire();
      const write = (stream: string, eventId: string, leave?: StreamWrite<Note>['leave']) =>
        stores.trips.append({ stream, eventId, message: { eventId } as never, ...(leave ? { leave } : {}) }, lease);
      await write('trip:nobody-here', 'evt-1');
      await write('trip:wanted', 'evt-2', { reason: 'removed', userId: 'u1' });
      await until(() => received.length === 1 && published.raw.length === 2, 5_000, 'both published, one handed over');
      expect(received).toEqual([expect.objectContaining({ stream: 'trip:wanted', seq: 1, leave: { reason: 'removed', userId: 'u1' } })]);
      expect([...asked]).toEqual(['trip:nobody-here', 'trip:wanted']);
      for (const json of published.raw) expect(streamOfEntry(Buffer.from(json))).toBe((JSON.parse(json) as StreamEntry<unknown>).stream);
      expect(streamOfEntry(Buffer.from('{"seq":1,"stream":"trip:x"}'))).toBeUndefined();
    });

    it('gives an empty message just its place', async () => {
      const fence = new RedisFence(one, prefix);
      const store = new RedisStreamStore<StreamHead>(one, { prefix, limits: DEFAULT_HISTORY, windowMs: 60_000 });
      await store.append({ stream: 'trip:t1', eventId: 'evt-empty', message: {} }, await fence.acquire());
      const { epoch } = await store.head('trip:t1');
      const recovery = await store.since('trip:t1', { seq: 0, epoch });
      expect(recovery.recovered && recovery.entries.map((e) => e.message)).toEqual([{ seq: 1, epoch }]);
    });

    it('publishes every entry on the entries channel in seq order, as kept in history', async () => {
      const published = await subscribe(url, prefix);
      const { store, write } = await setup();
      await Promise.all(Array.from({ length: 10 }, () => write('trip:t1')));
      await write('trip:t1', { leave: { reason: 'removed', userId: 'u1' } });
      await until(() => published.raw.length === 11, 5_000, 'eleven entries');
      const entries = published.entries();
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      const { epoch } = await store.head('trip:t1');
      expect(entries).toEqual(await kept(store, 'trip:t1', { seq: 0, epoch }));
      expect(entries[0]).toEqual({ stream: 'trip:t1', seq: 1, at: expect.any(Number), message: { text: expect.stringMatching(/^n\d+$/), seq: 1, epoch } });
      expect(entries[0]).not.toHaveProperty('leave');
      expect(entries[10]).toMatchObject({ seq: 11, leave: { reason: 'removed', userId: 'u1' } });
    });

    it('hands out a dropping entry, then starts the stream again at seq 1 under a new epoch', async () => {
      const published = await subscribe(url, prefix);
      const { store, write } = await setup();
      await write('trip:t1');
      await write('trip:t1', { leave: { reason: 'deleted' }, drop: true });
      await until(() => published.raw.length === 2, 5_000, 'the dropping entry');
      const dropped = published.entries()[1]!;
      expect(dropped).toMatchObject({ stream: 'trip:t1', seq: 2, leave: { reason: 'deleted' } });
      expect(await one.exists([keys.stream('trip:t1'), keys.history('trip:t1')])).toBe(0);
      await write('trip:t1');
      const head = await store.head('trip:t1');
      expect(head).toMatchObject({ seq: 1 });
      expect(head.epoch).not.toBe(dropped.message.epoch);
      expect(await store.since('trip:t1', { seq: 2, epoch: dropped.message.epoch })).toMatchObject({ recovered: false });
    });
  });

  describe('idempotency', () => {
    it('answers duplicate for an event written to the stream again, and numbers and publishes nothing', async () => {
      const published = await subscribe(url, prefix);
      const { lease, store } = await setup();
      const write = (text: string) => store.append({ stream: 'trip:t1', eventId: 'evt-again', message: { text } }, lease);
      expect(await write('first')).toBe('appended');
      expect(await write('second')).toBe('duplicate');
      await writer(store, lease)('trip:t1');
      await until(() => published.raw.length >= 2, 5_000, 'the later entry');
      expect(published.entries().map((e) => [e.seq, e.message.text])).toEqual([
        [1, 'first'],
        [2, expect.stringMatching(/^n\d+$/)],
      ]);
    });

    it('numbers the same event id on another stream there', async () => {
      const { lease, store } = await setup();
      const write = (stream: string) => store.append({ stream, eventId: 'evt-shared', message: { text: stream } }, lease);
      expect(await write('user:a')).toBe('appended');
      expect(await write('user:b')).toBe('appended');
      expect((await store.head('user:b')).seq).toBe(1);
    });

    it('numbers an event again once the window has passed', async () => {
      const { lease, store } = await setup(one, { windowMs: 150 });
      const write = () => store.append({ stream: 'trip:t1', eventId: 'evt-late', message: { text: 'late' } }, lease);
      expect(await write()).toBe('appended');
      expect(await write()).toBe('duplicate');
      await sleep(300);
      expect(await write()).toBe('appended');
      expect((await store.head('trip:t1')).seq).toBe(2);
    });

    it('keeps a dropped stream\'s event written: its redelivery starts no new epoch', async () => {
      const { lease, store } = await setup();
      const write = () => store.append({ stream: 'trip:t1', eventId: 'evt-deleted', message: { text: 'gone' }, drop: true }, lease);
      expect(await write()).toBe('appended');
      expect(await write()).toBe('duplicate');
      expect(await one.exists(keys.stream('trip:t1'))).toBe(0);
    });
  });

  describe('fencing', () => {
    it('refuses a write under a lease another consumer replaced: nothing numbered, kept, published or recorded', async () => {
      const published = await subscribe(url, prefix);
      const first = await setup(one);
      const membership = new RedisMembershipStore(one, { prefix, limits: { maxFacts: 10, ttlMs: 60_000 } });
      await first.write('trip:t1');
      await membership.record('t1', 'u1', { change: 'added', at: 10 }, first.lease);
      // Another instance, on its own connection, takes over.
      const second = await setup(two);
      const stale = (text: string) => first.store.append({ stream: 'trip:t1', eventId: 'evt-taken-over', message: { text } }, first.lease);
      await expect(stale('stale')).rejects.toBeInstanceOf(FencedError);
      await expect(membership.record('t1', 'u1', { change: 'removed', at: 20 }, first.lease)).rejects.toBeInstanceOf(FencedError);
      await expect(membership.record('t1', undefined, { change: 'deleted', at: 20 }, first.lease)).rejects.toBeInstanceOf(FencedError);
      const { epoch } = await first.store.head('trip:t1');
      expect(await first.store.head('trip:t1')).toMatchObject({ seq: 1 });
      expect((await kept(first.store, 'trip:t1', { seq: 0, epoch })).map((e) => e.seq)).toEqual([1]);
      expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: 10 } });
      // The refused event was not marked written: the new writer numbers it.
      expect(await second.store.append({ stream: 'trip:t1', eventId: 'evt-taken-over', message: { text: 'valid' } }, second.lease)).toBe('appended');
      await until(() => published.raw.length >= 2, 5_000, 'the valid entry');
      expect(published.entries().map((e) => e.seq)).toEqual([1, 2]);
      expect(published.raw.some((json) => json.includes('"stale"'))).toBe(false);
    });

    it('refuses every write once Redis lost the fence key, until a consumer acquires again', async () => {
      const { fence, store, write } = await setup();
      const membership = new RedisMembershipStore(one, { prefix, limits: { maxFacts: 10, ttlMs: 60_000 } });
      await write('trip:t1');
      await one.del(keys.fence);
      const stale = { token: '' };
      await expect(write('trip:t1')).rejects.toBeInstanceOf(FencedError);
      await expect(write('trip:t1', {}, stale)).rejects.toBeInstanceOf(FencedError);
      await expect(membership.record('t1', 'u1', { change: 'added', at: 1 }, stale)).rejects.toBeInstanceOf(FencedError);
      expect((await store.head('trip:t1')).seq).toBe(1);
      const lease = await fence.acquire();
      expect(await write('trip:t1', {}, lease)).toBe('appended');
      await membership.record('t1', 'u1', { change: 'added', at: 1 }, lease);
      expect((await store.head('trip:t1')).seq).toBe(2);
    });

    it('keeps each deployment\'s fence to itself', async () => {
      const { write } = await setup();
      await new RedisFence(two, `${prefix}other:`).acquire();
      expect(await write('trip:t1')).toBe('appended');
    });
  });

  describe('appends against joins', () => {
    it('makes an append wait while a join on another instance holds the stream\'s lock, then number in order', SLOW, async () => {
      const published = await subscribe(url, prefix);
      const { store, write } = await setup(one);
      const join = new RedisStreamLock(two, { prefix });
      // As the bridge orders its own appends of a stream: the writer's local lock.
      const writeLock = new KeyedLock();
      await write('trip:t1');
      const settled: string[] = [];
      let appends: Array<Promise<unknown>> = [];
      let released = 0;
      await join.run('trip:t1', async () => {
        appends = ['a', 'b'].map((name) =>
          Promise.resolve(writeLock.run('trip:t1', () => write('trip:t1'))).then((outcome) => settled.push(`${name}:${outcome}`)),
        );
        await sleep(300);
        expect(settled).toEqual([]);
        expect((await store.head('trip:t1')).seq).toBe(1);
        released = Date.now();
      });
      await Promise.all(appends);
      expect(Date.now() - released).toBeLessThan(1_000);
      expect(settled).toEqual(['a:appended', 'b:appended']);
      await until(() => published.raw.length === 3, 5_000, 'three entries');
      const texts = published.entries().map((e) => [e.seq, Number(e.message.text.slice(1))]);
      expect(texts.map(([seq]) => seq)).toEqual([1, 2, 3]);
      expect(texts[1]![1]).toBeLessThan(texts[2]![1]!); // a before b
    });

    it('gives up with StoreUnavailableError when a join\'s lock outlasts twice its ttl, numbering nothing', async () => {
      const { lease, store } = await setup(one, { lockTtlMs: 100 });
      const blocked = () => store.append({ stream: 'trip:t1', eventId: 'evt-blocked', message: { text: 'x' } }, lease);
      await one.set(keys.lock('trip:t1'), 'a-dead-holder', { PX: 5_000 });
      const started = Date.now();
      await expect(blocked()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
      await one.del(keys.lock('trip:t1'));
      expect((await store.head('trip:t1')).seq).toBe(0);
      // Not marked written either: once the lock is gone, the event is numbered.
      expect(await blocked()).toBe('appended');
    });

    it('refuses a stale lease at once, even while a join holds the lock', async () => {
      const { fence, lease, store } = await setup(one, { lockTtlMs: 1_000 });
      await fence.acquire();
      await one.set(keys.lock('trip:t1'), 'a-join', { PX: 5_000 });
      const started = Date.now();
      await expect(store.append({ stream: 'trip:t1', eventId: 'evt-stale', message: { text: 'x' } }, lease)).rejects.toBeInstanceOf(FencedError);
      expect(Date.now() - started).toBeLessThan(500);
    });
  });

  describe('lock', () => {
    it('never runs two tasks of one key at once, across instances', async () => {
      const locks = [new RedisStreamLock(one, { prefix }), new RedisStreamLock(two, { prefix })];
      let inside = 0;
      let most = 0;
      const task = async () => {
        most = Math.max(most, ++inside);
        await sleep(2);
        inside--;
      };
      await Promise.all(locks.flatMap((lock) => Array.from({ length: 20 }, () => lock.run('overlap', task))));
      expect(most).toBe(1);
    });

    it('lets others in once a holder that never releases has expired', async () => {
      await one.set(keys.lock('stuck'), 'a-dead-holder', { PX: 200 });
      const started = Date.now();
      expect(await new RedisStreamLock(two, { prefix, ttlMs: 200 }).run('stuck', () => 'ran')).toBe('ran');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    });

    it('gives up with StoreUnavailableError when a holder outlasts twice the ttl', async () => {
      await one.set(keys.lock('held'), 'a-slow-holder', { PX: 5_000 });
      await expect(new RedisStreamLock(two, { prefix, ttlMs: 100 }).run('held', () => 'ran')).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('lets an error of the task pass through, and releases the lock', async () => {
      const lock = new RedisStreamLock(one, { prefix });
      const failure = new Error('bad task');
      await expect(lock.run('failing', () => Promise.reject(failure))).rejects.toBe(failure);
      expect(await one.exists(keys.lock('failing'))).toBe(0);
    });
  });

  describe('broadcast dedupe', () => {
    it('has seen an id on every instance once one remembered it', async () => {
      const a = new RedisDedupeStore(one, { prefix, windowMs: 60_000 });
      const b = new RedisDedupeStore(two, { prefix, windowMs: 60_000 });
      expect(await b.seen('evt-1')).toBe(false);
      expect(await b.seen('evt-1')).toBe(false); // asking does not remember
      await a.remember('evt-1');
      expect(await b.seen('evt-1')).toBe(true);
      expect(await a.seen('evt-2')).toBe(false);
    });

    it('forgets an id once the window has passed', async () => {
      const dedupe = new RedisDedupeStore(one, { prefix, windowMs: 150 });
      await dedupe.remember('evt-1');
      expect(await dedupe.seen('evt-1')).toBe(true);
      await sleep(300);
      expect(await dedupe.seen('evt-1')).toBe(false);
    });
  });

  describe('membership', () => {
    it('keeps the latest change of a user in a trip, and the deletion of the trip', async () => {
      const lease = await new RedisFence(one, prefix).acquire();
      const membership = new RedisMembershipStore(one, { prefix, limits: { maxFacts: 10, ttlMs: 60_000 } });
      const elsewhere = new RedisMembershipStore(two, { prefix, limits: { maxFacts: 10, ttlMs: 60_000 } });
      expect(await membership.lookup('t1', 'u1')).toEqual({});
      await membership.record('t1', 'u1', { change: 'removed', at: 10 }, lease);
      await membership.record('t1', 'u1', { change: 'added', at: 20 }, lease);
      await membership.record('t1', undefined, { change: 'deleted', at: 30 }, lease);
      expect(await elsewhere.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: 20 }, deleted: { change: 'deleted', at: 30 } });
      expect(await elsewhere.lookup('t1', 'u2')).toEqual({ deleted: { change: 'deleted', at: 30 } });
      expect(await elsewhere.lookup('t1:u1', '')).toEqual({});
    });

    it('forgets facts after their time limit', async () => {
      const lease = await new RedisFence(one, prefix).acquire();
      const membership = new RedisMembershipStore(one, { prefix, limits: { maxFacts: 10, ttlMs: 100 } });
      await membership.record('t2', 'u1', { change: 'removed', at: 10 }, lease);
      expect(await membership.lookup('t2', 'u1')).toEqual({ member: { change: 'removed', at: 10 } });
      await sleep(250);
      expect(await membership.lookup('t2', 'u1')).toEqual({});
    });
  });

  describe('without Redis', () => {
    it('reports StoreUnavailableError from every store once the client is disconnected', async () => {
      const client = await open(url);
      await client.disconnect();
      const stores = createRedisStores(client, await open(url, undefined, false), { prefix });
      const lease = { token: 'any' };
      const calls: Array<Promise<unknown>> = [
        stores.fence.acquire(),
        stores.users.append({ stream: 'user:x', eventId: 'evt-x', message: { eventId: 'evt-x', type: 'info', title: 't', message: 'm', time: new Date().toISOString() } }, lease),
        stores.trips.head('trip:x'),
        stores.users.since('user:x', { seq: 0, epoch: 'e' }),
        stores.dedupe.seen('evt-x'),
        stores.dedupe.remember('evt-x'),
        stores.membership.record('t', 'u', { change: 'added', at: 1 }, lease),
        stores.membership.lookup('t', 'u'),
        stores.lock.run('trip:x', () => 'ran'),
      ];
      // Settled together: an append waits for the end of the turn (it is sent with the turn's others).
      for (const outcome of await Promise.allSettled(calls)) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      }
    });

    it('reports StoreUnavailableError at once while a client is offline', async () => {
      // A port that was free a moment ago: nothing listens there.
      const server = createServer().listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const { port } = server.address() as { port: number };
      await new Promise((resolve) => server.close(resolve));
      const client = await open(`redis://127.0.0.1:${port}`, 50, false);
      void client.connect().catch(() => undefined);
      const started = Date.now();
      await expect(new RedisDedupeStore(client, { prefix, windowMs: 1000 }).seen('evt-y')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(streamStore(client, prefix).append({ stream: 'trip:y', eventId: 'evt-y', message: { text: 'y' } }, { token: 'any' })).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });

  describe('rate limits', () => {
    it('shares a budget between instances, and counts in memory while Redis is unreachable', async () => {
      const rule = { points: 2, durationSeconds: 5 };
      const [a, b] = [one, two].map((client) => redisRateLimiters(client, `${prefix}limit:`)('events_per_user', rule));
      expect(await a!.consume('u-shared')).toEqual({ limited: false });
      expect(await b!.consume('u-shared')).toEqual({ limited: false });
      // The third event of the window is refused, whichever instance it reaches.
      expect(await a!.consume('u-shared')).toMatchObject({ limited: true, firstHit: true });

      const offline = await open(url);
      await offline.disconnect();
      const alone = redisRateLimiters(offline, `${prefix}limit:`)('events_per_user', rule);
      expect(await alone.consume('u-offline')).toEqual({ limited: false });
      expect(await alone.consume('u-offline')).toEqual({ limited: false });
      expect(await alone.consume('u-offline')).toMatchObject({ limited: true });
    });
  });
});

/** Tests that restart, roll back or cut a Redis of their own: never the shared one. */
describe.skipIf(!hasRedisServer)('the Redis stores when their Redis restarts', () => {
  let redis: PrivateRedis | undefined;
  const prefix = 'bridge:';

  afterEach(async () => {
    await closeAll();
    await redis?.stop();
    redis = undefined;
  });

  /** A private Redis and a client that reconnects to it every 50 ms. */
  async function start() {
    redis = await PrivateRedis.start();
    const client = await open(redis.url, 50);
    const fence = new RedisFence(client, prefix);
    const store = streamStore(client, prefix);
    return { redis, client, fence, store };
  }

  /** SIGKILL, then start again (from its last snapshot, if one was taken), and wait for `clients`. */
  async function crash(server: PrivateRedis, ...clients: RedisClientType[]) {
    await server.kill();
    await until(() => clients.every((c) => !c.isReady), 5_000, 'the clients to notice');
    await server.restart();
    await until(() => clients.every((c) => c.isReady), 5_000, 'the clients to reconnect');
  }

  it('starts every stream again under a new epoch after a restart without persistence, and fences every write until acquire', SLOW, async () => {
    const { redis, client, fence, store } = await start();
    const lease = await fence.acquire();
    const write = writer(store, lease);
    const membership = new RedisMembershipStore(client, { prefix, limits: { maxFacts: 10, ttlMs: 60_000 } });
    await write('trip:t1');
    await write('trip:t1');
    const before = await store.head('trip:t1');
    await redis.kill();
    await until(() => !client.isReady, 5_000, 'the client to notice');
    await expect(store.head('trip:t1')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(write('trip:t1')).rejects.toBeInstanceOf(StoreUnavailableError);
    await redis.restart();
    await until(() => client.isReady, 5_000, 'the client to reconnect');

    const since = await store.since('trip:t1', { seq: before.seq, epoch: before.epoch });
    expect(since).toMatchObject({ recovered: false, head: { seq: 0 } });
    expect(since.head.epoch).not.toBe(before.epoch);
    await expect(write('trip:t1')).rejects.toBeInstanceOf(FencedError);
    await expect(membership.record('t1', 'u1', { change: 'added', at: 1 }, lease)).rejects.toBeInstanceOf(FencedError);
    const again = await fence.acquire();
    expect(await write('trip:t1', {}, again)).toBe('appended');
    await membership.record('t1', 'u1', { change: 'added', at: 1 }, again);
    expect(await store.head('trip:t1')).toMatchObject({ seq: 1, epoch: since.head.epoch });
  });

  it('starts every stream kept before a rollback to an older snapshot again under a new epoch', SLOW, async () => {
    const { redis, client, fence, store } = await start();
    const write = writer(store, await fence.acquire());
    // One stream per operation, so that each is the first to meet its stream after the rollback.
    const streams = ['trip:head', 'trip:since', 'trip:append'];
    for (const stream of streams) for (let i = 0; i < 3; i++) await write(stream);
    expect(await redis.cli('SAVE')).toBe('OK');
    for (const stream of streams) for (let i = 0; i < 2; i++) await write(stream);
    const epochs = new Map<string, string>();
    for (const stream of streams) epochs.set(stream, (await store.head(stream)).epoch);
    await crash(redis, client);
    // Back from the snapshot taken at seq 3: the writes of 4 and 5 are gone, the heads say 3.
    expect(await client.hGet(redisKeys(prefix).stream('trip:head'), 'seq')).toBe('3');

    const head = await store.head('trip:head');
    expect(head.seq).toBe(0);
    expect(head.epoch).not.toBe(epochs.get('trip:head'));
    for (const seq of [3, 5]) {
      const recovery = await store.since('trip:since', { seq, epoch: epochs.get('trip:since')! });
      expect(recovery).toMatchObject({ recovered: false, head: { seq: 0 } });
      expect(recovery.head.epoch).not.toBe(epochs.get('trip:since'));
    }
    expect(await write('trip:append', {}, await fence.acquire())).toBe('appended');
    const appended = await store.head('trip:append');
    expect(appended.seq).toBe(1);
    expect(appended.epoch).not.toBe(epochs.get('trip:append'));
  });

  it('calls resubscribed after the subscriber connection was killed, and entries flow again', SLOW, async () => {
    const { redis, client } = await start();
    const sub = await open(redis.url, 50);
    const stores = createRedisStores(client, sub, { prefix });
    const got: number[] = [];
    let resubscribed = 0;
    stores.entries.listen((entry) => got.push(entry.seq), () => resubscribed++);
    await stores.entries.start();
    const lease = await stores.fence.acquire();
    const write = (n: number) => stores.users.append({ stream: 'user:u1', eventId: `evt-${n}`, message: { eventId: `evt-${n}`, type: 'info', title: 't', message: 'm', time: new Date().toISOString() } }, lease);
    await write(1);
    await until(() => got.length === 1, 5_000, 'the first entry');
    expect(await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBe('1');
    await until(() => resubscribed === 1, 5_000, 'resubscribed');
    await write(2);
    await until(() => got.length === 2, 5_000, 'the entry after resubscribing');
    expect(got).toEqual([1, 2]);
  });

  it('calls resubscribed after Redis restarts, for a subscription made before the connection', SLOW, async () => {
    const { redis, client } = await start();
    const sub = await open(redis.url, 50, false);
    const stores = createRedisStores(client, sub, { prefix });
    let resubscribed = 0;
    const got: number[] = [];
    stores.entries.listen((entry) => got.push(entry.seq), () => resubscribed++);
    await sub.connect();
    await stores.entries.start();
    expect(resubscribed).toBe(0);
    await crash(redis, client, sub);
    await until(() => resubscribed === 1, 5_000, 'resubscribed');
    await stores.users.append({ stream: 'user:u1', eventId: 'evt-1', message: { eventId: 'evt-1', type: 'info', title: 't', message: 'm', time: new Date().toISOString() } }, await stores.fence.acquire());
    await until(() => got.length === 1, 5_000, 'an entry after the restart');
  });
});
