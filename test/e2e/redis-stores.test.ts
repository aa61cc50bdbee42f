import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDispatcher } from '../../consumers/dispatcher.js';
import { redisRateLimiters } from '../../src/auth/rate-limiter.js';
import { DEFAULT_HISTORY, type HistoryLimits } from '../../src/state/memory-stores.js';
import {
  createRedisStores,
  RedisDedupeStore,
  RedisMembershipStore,
  RedisStreamLock,
  RedisStreamStore,
} from '../../src/state/redis-stores.js';
import { EventBusyError, StoreUnavailableError, type StreamHead } from '../../src/state/stores.js';

/** The Redis test/setup found: without one these tests are skipped loudly, and fail under CI. */
const redisUrl = inject('redisUrl');
const prefix = `test:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
const TIMEOUT = { timeout: 15_000 };

/** A client as a bridge instance builds it: failing at once rather than queueing while offline. */
async function connect(url = redisUrl ?? undefined): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe.skipIf(!redisUrl)('the Redis stores shared by bridge instances', () => {
  let one: RedisClientType;
  let two: RedisClientType;
  let n = 0;
  /** A stream name of its own per test, so that tests never share keys. */
  const fresh = () => `trip:t${n++}`;

  /** A store whose messages are their own positions, so that tests read seq and epoch back. */
  function store(limits: Partial<HistoryLimits> = {}, client = one) {
    const streams = new RedisStreamStore<StreamHead>(client, { prefix, limits: { ...DEFAULT_HISTORY, ...limits } });
    return { streams, next: (stream: string) => streams.append(stream, `evt-${n++}`, (head) => head) };
  }

  beforeAll(async () => {
    [one, two] = await Promise.all([connect(), connect()]);
  });

  afterAll(async () => {
    if (one?.isOpen) {
      for await (const key of one.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) await one.del(key);
    }
    await Promise.all([one, two].map((c) => (c?.isOpen ? c.quit() : undefined)));
  });

  describe('streams', () => {
    it('counts appends 1, 2, 3 in the epoch the head showed', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      const { seq, epoch } = await streams.head(stream);
      expect(seq).toBe(0);
      expect(epoch).toMatch(/.+/);
      expect([await next(stream), await next(stream), await next(stream)]).toEqual([1, 2, 3].map((s) => ({ seq: s, epoch })));
      expect(await streams.head(stream)).toEqual({ seq: 3, epoch });
    });

    it('keeps one epoch for a stream whichever instance reads it first', TIMEOUT, async () => {
      const stream = fresh();
      const [a, b] = await Promise.all([store().streams.head(stream), store({}, two).streams.head(stream)]);
      expect(a).toEqual(b);
    });

    it('returns every message after a position, in order, and nothing missed at the head', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      for (let i = 0; i < 5; i++) await next(stream);
      const head = await streams.head(stream);
      expect(await streams.since(stream, { seq: 2, epoch: head.epoch })).toEqual({
        recovered: true,
        head,
        messages: [3, 4, 5].map((seq) => ({ seq, epoch: head.epoch })),
      });
      expect(await streams.since(stream, head)).toEqual({ recovered: true, head, messages: [] });
    });

    it('cannot recover across epochs, or from a position it never gave out', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      const { epoch } = await next(stream);
      expect(await streams.since(stream, { seq: 0, epoch: 'another-epoch' })).toEqual({ recovered: false, head: { seq: 1, epoch } });
      expect(await streams.since(stream, { seq: 7, epoch })).toMatchObject({ recovered: false });
    });

    it('cannot recover once the history no longer reaches back', TIMEOUT, async () => {
      const { streams, next } = store({ size: 3 });
      const stream = fresh();
      for (let i = 0; i < 5; i++) await next(stream);
      const { epoch } = await streams.head(stream);
      expect(await streams.since(stream, { seq: 1, epoch })).toMatchObject({ recovered: false, head: { seq: 5 } });
      expect(await streams.since(stream, { seq: 2, epoch })).toMatchObject({ recovered: true, messages: [{ seq: 3 }, { seq: 4 }, { seq: 5 }] });
    });

    it('cannot recover messages older than the history age', TIMEOUT, async () => {
      const { streams, next } = store({ ttlMs: 400 });
      const stream = fresh();
      await next(stream);
      const { epoch } = await next(stream);
      await sleep(600);
      await next(stream);
      expect(await streams.since(stream, { seq: 0, epoch })).toMatchObject({ recovered: false });
      expect(await streams.since(stream, { seq: 2, epoch })).toMatchObject({ recovered: true, messages: [{ seq: 3 }] });
    });

    it('forgets an idle stream, which starts again at seq 1 under a new epoch', TIMEOUT, async () => {
      const { next } = store({ ttlMs: 100 });
      const stream = fresh();
      const first = await next(stream);
      await sleep(400);
      const again = await next(stream);
      expect(again.seq).toBe(1);
      expect(again.epoch).not.toBe(first.epoch);
    });

    it('starts a dropped stream again at seq 1 under a new epoch, with no history', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      await next(stream);
      const first = await next(stream);
      await streams.drop(stream);
      const again = await next(stream);
      expect(again).toEqual({ seq: 1, epoch: expect.not.stringMatching(`^${first.epoch}$`) });
      expect(await streams.since(stream, { seq: 0, epoch: again.epoch })).toEqual({ recovered: true, head: again, messages: [again] });
    });

    it('makes an append wait while a join on another instance holds the stream\'s lock', TIMEOUT, async () => {
      const stream = fresh();
      const writer = store({}, one);
      const joiner = { ...store({}, two), lock: new RedisStreamLock(two, { prefix }) };
      const first = await writer.next(stream);
      let appended: StreamHead | undefined;
      let append: Promise<StreamHead> | undefined;
      await joiner.lock.run(stream, async () => {
        append = writer.next(stream).then((head) => (appended = head));
        await sleep(150);
        expect(appended).toBeUndefined();
        expect(await joiner.streams.head(stream)).toEqual(first);
      });
      expect(await append).toEqual({ seq: 2, epoch: first.epoch });
    });

    it('shows joins only what was kept: a position reserved but not kept is not the head', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      const first = await next(stream);
      await expect(streams.append(stream, 'evt-dies', () => { throw new Error('died after reserving seq 2'); })).rejects.toThrow();
      expect(await streams.head(stream)).toEqual(first);
      expect(await streams.since(stream, { seq: 0, epoch: first.epoch })).toEqual({ recovered: true, head: first, messages: [first] });
      expect(await streams.since(stream, first)).toEqual({ recovered: true, head: first, messages: [] });
    });

    it('keeps messages as JSON and gives them back equal', TIMEOUT, async () => {
      const { trips } = createRedisStores(one, { prefix });
      const stream = fresh();
      const message = await trips.append(stream, 'evt-json', ({ seq, epoch }) => ({
        eventId: 'evt-json',
        type: 'trip.updated' as const,
        tripId: 't-json',
        seq,
        epoch,
        time: new Date().toISOString(),
        source: 'test-suite',
        data: { tripId: 't-json', changes: { title: 'Lisbon "in" May \u2713', nested: [1, null, { ok: true }] } },
      }));
      expect(await trips.since(stream, { seq: 0, epoch: (await trips.head(stream)).epoch })).toMatchObject({ messages: [message] });
    });

    it('lets an error of build pass through unchanged', TIMEOUT, async () => {
      const { streams } = store();
      const failure = new Error('bad build');
      await expect(streams.append(fresh(), 'evt-fails', () => { throw failure; })).rejects.toBe(failure);
    });

    it('gives an event appended again its first message back, without numbering it twice', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      const first = await streams.append(stream, 'evt-again', (head) => head);
      expect(await streams.append(stream, 'evt-again', () => ({ seq: -1, epoch: 'never built' }))).toEqual(first);
      expect(await next(stream)).toEqual({ seq: 2, epoch: first.epoch });
    });

    it('gives a position reserved but never kept (its writer died) to the next append: no seq goes missing', TIMEOUT, async () => {
      const { streams, next } = store();
      const stream = fresh();
      await next(stream);
      await expect(streams.append(stream, 'evt-dies', () => { throw new Error('died after reserving seq 2'); })).rejects.toThrow();
      expect((await next(stream)).seq).toBe(2);
      const { epoch } = await streams.head(stream);
      const recovery = await streams.since(stream, { seq: 0, epoch });
      expect(recovery.recovered && recovery.messages.map((m) => m.seq)).toEqual([1, 2]);
    });
  });

  describe('dedupe', () => {
    it('claims an id once: busy while pending, seen once complete, on any instance', TIMEOUT, async () => {
      const a = new RedisDedupeStore(one, { prefix, windowMs: 60_000 });
      const b = new RedisDedupeStore(two, { prefix, windowMs: 60_000 });
      expect(await a.claim('evt-1')).toBe('new');
      expect(await b.claim('evt-1')).toBe('busy');
      await a.complete('evt-1');
      expect(await b.claim('evt-1')).toBe('seen');
      await b.release('evt-1'); // completed: a release does not forget it
      expect(await a.claim('evt-1')).toBe('seen');
    });

    it('lets a redelivery take over a claim held elsewhere, but never one completed', TIMEOUT, async () => {
      const a = new RedisDedupeStore(one, { prefix, windowMs: 60_000 });
      const b = new RedisDedupeStore(two, { prefix, windowMs: 60_000 });
      expect(await a.claim('evt-taken')).toBe('new');
      expect(await b.claim('evt-taken')).toBe('busy');
      expect(await b.claim('evt-taken', true)).toBe('new');
      await b.complete('evt-taken');
      expect(await a.claim('evt-taken', true)).toBe('seen');
    });

    it('makes the dispatcher wait for a claim held elsewhere, unless the event is a redelivery', TIMEOUT, async () => {
      const holder = new RedisDedupeStore(one, { prefix, windowMs: 60_000 });
      const routed: string[] = [];
      const dispatcher = createDispatcher({
        dedupe: new RedisDedupeStore(two, { prefix, windowMs: 60_000 }),
        route: async (event) => void routed.push(event.id),
      });
      const event = { specversion: '1.0', id: 'evt-held', source: 'test', type: 'trip.updated', data: { tripId: 't', changes: {} } };
      const decoded = dispatcher.decode(Buffer.from(JSON.stringify(event)));
      if (!decoded.ok) throw new Error(decoded.detail);
      expect(await holder.claim('evt-held')).toBe('new');
      await expect(dispatcher.deliver(decoded.event)).rejects.toBeInstanceOf(EventBusyError);
      expect(await dispatcher.deliver(decoded.event, true)).toBe('delivered');
      expect(await dispatcher.deliver(decoded.event, true)).toBe('duplicate');
      expect(routed).toEqual(['evt-held']);
    });

    it('lets a released id be claimed again', TIMEOUT, async () => {
      const dedupe = new RedisDedupeStore(one, { prefix, windowMs: 60_000 });
      expect(await dedupe.claim('evt-2')).toBe('new');
      await dedupe.release('evt-2');
      expect(await dedupe.claim('evt-2')).toBe('new');
      expect(await dedupe.claim('evt-2')).toBe('busy');
    });

    it('frees the claim of an instance that died, and forgets a handled id after the window', TIMEOUT, async () => {
      const dedupe = new RedisDedupeStore(one, { prefix, windowMs: 150, claimTtlMs: 150 });
      expect(await dedupe.claim('evt-3')).toBe('new');
      await sleep(300);
      expect(await dedupe.claim('evt-3')).toBe('new');
      await dedupe.complete('evt-3');
      expect(await dedupe.claim('evt-3')).toBe('seen');
      await sleep(300);
      expect(await dedupe.claim('evt-3')).toBe('new');
    });
  });

  describe('membership', () => {
    it('keeps the latest change of a user in a trip, and the deletion of the trip', TIMEOUT, async () => {
      const membership = new RedisMembershipStore(one, { prefix, limits: { maxFacts: 10, ttlMs: 60_000 } });
      expect(await membership.lookup('t1', 'u1')).toEqual({});
      await membership.record('t1', 'u1', { change: 'removed', at: 10 });
      await membership.record('t1', 'u1', { change: 'added', at: 20 });
      await membership.recordDeleted('t1', 30);
      expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: 20 }, deleted: { change: 'deleted', at: 30 } });
      expect(await membership.lookup('t1', 'u2')).toEqual({ deleted: { change: 'deleted', at: 30 } });
      expect(await membership.lookup('t1:u1', '')).toEqual({});
    });

    it('forgets facts after their time limit', TIMEOUT, async () => {
      const membership = new RedisMembershipStore(one, { prefix, limits: { maxFacts: 10, ttlMs: 100 } });
      await membership.record('t2', 'u1', { change: 'removed', at: 10 });
      await sleep(250);
      expect(await membership.lookup('t2', 'u1')).toEqual({});
    });
  });

  describe('lock', () => {
    it('never runs two tasks of one key at once, across instances', TIMEOUT, async () => {
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

    it('lets others in once a holder that never releases has expired', TIMEOUT, async () => {
      await one.set(`${prefix}lock:{stuck}`, 'a-dead-holder', { PX: 200 });
      const started = Date.now();
      expect(await new RedisStreamLock(two, { prefix, ttlMs: 200 }).run('stuck', () => 'ran')).toBe('ran');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    });

    it('gives up with StoreUnavailableError when a holder outlasts twice the ttl', TIMEOUT, async () => {
      await one.set(`${prefix}lock:{held}`, 'a-slow-holder', { PX: 5000 });
      await expect(new RedisStreamLock(two, { prefix, ttlMs: 100 }).run('held', () => 'ran')).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('lets an error of the task pass through, and releases the lock', TIMEOUT, async () => {
      const lock = new RedisStreamLock(one, { prefix });
      const failure = new Error('bad task');
      await expect(lock.run('failing', () => Promise.reject(failure))).rejects.toBe(failure);
      expect(await one.exists(`${prefix}lock:{failing}`)).toBe(0);
    });
  });

  describe('without Redis', () => {
    it('reports StoreUnavailableError from every store once the client is disconnected', TIMEOUT, async () => {
      const client = await connect();
      await client.disconnect();
      const stores = createRedisStores(client, { prefix });
      const calls = [
        stores.users.append('user:x', 'evt-x', () => {
          throw new Error('never built: the position comes first');
        }),
        stores.trips.head('trip:x'),
        stores.users.since('user:x', { seq: 0, epoch: 'e' }),
        stores.trips.drop('trip:x'),
        stores.dedupe.claim('evt-x'),
        stores.dedupe.complete('evt-x'),
        stores.dedupe.release('evt-x'),
        stores.membership.record('t', 'u', { change: 'added', at: 1 }),
        stores.membership.lookup('t', 'u'),
        stores.lock.run('trip:x', () => 'ran'),
      ];
      for (const call of calls) await expect(call).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('reports StoreUnavailableError at once while a client is offline', TIMEOUT, async () => {
      // A port that was free a moment ago: nothing listens there.
      const server = createServer().listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const { port } = server.address() as { port: number };
      await new Promise((resolve) => server.close(resolve));
      const client: RedisClientType = createClient({ url: `redis://127.0.0.1:${port}`, disableOfflineQueue: true, socket: { reconnectStrategy: 50 } });
      client.on('error', () => undefined);
      void client.connect().catch(() => undefined);
      try {
        await expect(new RedisDedupeStore(client, { prefix, windowMs: 1000 }).claim('evt-y')).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        await client.disconnect().catch(() => undefined);
      }
    });
  });
  describe('rate limits', () => {
    it('shares a budget between instances, and counts in memory while Redis is unreachable', TIMEOUT, async () => {
      const rule = { points: 2, durationSeconds: 5 };
      const [a, b] = [one, two].map((client) => redisRateLimiters(client, `${prefix}limit:`)('events_per_user', rule));
      expect(await a!.consume('u-shared')).toEqual({ limited: false });
      expect(await b!.consume('u-shared')).toEqual({ limited: false });
      // The third event of the window is refused, whichever instance it reaches.
      expect(await a!.consume('u-shared')).toMatchObject({ limited: true, firstHit: true });

      const offline = await connect();
      await offline.disconnect();
      const alone = redisRateLimiters(offline, `${prefix}limit:`)('events_per_user', rule);
      expect(await alone.consume('u-offline')).toEqual({ limited: false });
      expect(await alone.consume('u-offline')).toEqual({ limited: false });
      expect(await alone.consume('u-offline')).toMatchObject({ limited: true });
    });
  });
});
