import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HISTORY,
  MemoryDedupeStore,
  MemoryFence,
  MemoryMembershipStore,
  MemoryStreamStore,
  STREAM_OVERHEAD_BYTES,
  type DedupeLimits,
  type HistoryLimits,
} from '../../src/state/memory-stores.js';
import { FencedError, type Lease, type StreamEntry, type StreamWrite } from '../../src/state/stores.js';
import { createMemoryStreams } from '../../src/state/streams.js';
import { ORDER_CASES } from '../helpers/membership-order.js';

/** What the tests write: a text, to which the store adds the message's place. */
interface Note {
  seq: number;
  epoch: string;
  text: string;
}

type Extra = Partial<Omit<StreamWrite<Note>, 'stream' | 'message'>>;

/**
 * A store with its fence, the lease acquired last, and every entry it handed out; `write` appends a
 * new event (`evt-<n>`, text `n<n>`) under that lease unless told otherwise.
 */
async function setup(
  options: { limits?: Partial<HistoryLimits>; now?: () => number; dedupe?: DedupeLimits } = {},
) {
  const fence = new MemoryFence();
  const streams = new MemoryStreamStore<Note>(fence, { ...DEFAULT_HISTORY, ...options.limits }, options.now, options.dedupe);
  const entries: Array<StreamEntry<Note>> = [];
  streams.listen((entry) => entries.push(entry));
  const lease = await fence.acquire();
  let events = 0;
  const write = (stream: string, extra: Extra = {}, under: Lease = lease) => {
    const n = events++;
    return streams.append({ stream, eventId: `evt-${n}`, message: { text: `n${n}` }, ...extra }, under);
  };
  return { fence, streams, entries, lease, write };
}

describe('MemoryFence', () => {
  it('accepts only the lease handed out last', async () => {
    const fence = new MemoryFence();
    const first = await fence.acquire();
    expect(() => fence.check(first)).not.toThrow();
    const second = await fence.acquire();
    expect(second.token).not.toBe(first.token);
    expect(() => fence.check(first)).toThrow(FencedError);
    expect(() => fence.check(second)).not.toThrow();
  });

  it('refuses a lease it never handed out', async () => {
    const fence = new MemoryFence();
    expect(() => fence.check({ token: 'lease.1' })).toThrow(FencedError);
    await fence.acquire();
    expect(() => fence.check({ token: 'forged' })).toThrow(FencedError);
  });
});

describe('MemoryStreamStore numbering', () => {
  it('gives a new stream head seq 0 with a non-empty epoch and the store clock', async () => {
    const { streams } = await setup({ now: () => 123_456 });
    expect(await streams.head('trip:t1')).toEqual({ seq: 0, epoch: expect.stringMatching(/.+/), at: 123_456 });
  });

  it('numbers appends 1, 2, 3 in the epoch the head showed, splicing seq and epoch into the message', async () => {
    const { streams, entries, write } = await setup({ now: () => 5_000 });
    const { epoch } = await streams.head('trip:t1');
    expect([await write('trip:t1'), await write('trip:t1'), await write('trip:t1')]).toEqual(['appended', 'appended', 'appended']);
    expect(entries).toEqual([0, 1, 2].map((n) => ({ stream: 'trip:t1', seq: n + 1, at: 5_000, message: { text: `n${n}`, seq: n + 1, epoch } })));
    expect(await streams.head('trip:t1')).toEqual({ seq: 3, epoch, at: 5_000 });
  });

  it('numbers each stream on its own', async () => {
    const { streams, entries, write } = await setup();
    await write('trip:a');
    await write('trip:a');
    await write('user:b');
    expect(entries.map((e) => [e.stream, e.seq])).toEqual([
      ['trip:a', 1],
      ['trip:a', 2],
      ['user:b', 1],
    ]);
    expect((await streams.head('trip:a')).seq).toBe(2);
  });

  it('numbers concurrent appends of one stream consecutively', async () => {
    const { entries, write } = await setup();
    await Promise.all(Array.from({ length: 20 }, () => write('trip:t1')));
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('gives two store instances (two processes) different epochs for the same stream', async () => {
    const one = await (await setup()).streams.head('trip:t1');
    const two = await (await setup()).streams.head('trip:t1');
    expect(one.epoch).not.toBe(two.epoch);
  });

  it('forgets the least recently used streams past its byte budget, restarting them under a new epoch', async () => {
    // Each stream costs its history's bytes plus a fixed overhead: two streams of one message fit, three do not.
    const probe = await setup();
    await probe.write('trip:a');
    const one = Buffer.byteLength(JSON.stringify(probe.entries[0])) + STREAM_OVERHEAD_BYTES;
    const { entries, write } = await setup({ limits: { size: 1, totalBytes: 2 * one + 10 } });
    await write('trip:a');
    await write('trip:a');
    await write('trip:b');
    await write('trip:c'); // evicts trip:a, the least recently used
    await write('trip:a');
    const [, before, , , after] = entries;
    expect(before).toMatchObject({ stream: 'trip:a', seq: 2 });
    expect(after).toMatchObject({ stream: 'trip:a', seq: 1 });
    expect(after!.message.epoch).not.toBe(before!.message.epoch);
  });

  it('no longer counts the entries that aged out against the byte budget', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const probe = await setup({ now });
    await probe.write('trip:a');
    const e = Buffer.byteLength(JSON.stringify(probe.entries[0]));
    const o = STREAM_OVERHEAD_BYTES;
    // Three streams fit once one of the first two lost its entry to age: not while that entry still counted.
    const { streams, entries, write } = await setup({ now, limits: { size: 1, ttlMs: 1000, totalBytes: 2 * e + 3 * o + 5 } });
    await write('trip:a');
    await write('trip:b');
    clock += 2000;
    expect((await streams.since('trip:a', { seq: 0, epoch: entries[0]!.message.epoch })).recovered).toBe(false);
    await write('trip:c');
    const [a1, b1] = entries;
    expect(await streams.head('trip:a')).toMatchObject({ seq: 1, epoch: a1!.message.epoch });
    expect(await streams.head('trip:b')).toMatchObject({ seq: 1, epoch: b1!.message.epoch });
  });

  it('starts every stream again under a new epoch once closed', async () => {
    const { streams, write } = await setup();
    await write('trip:t1');
    const before = await streams.head('trip:t1');
    await streams.close();
    const after = await streams.head('trip:t1');
    expect(after.seq).toBe(0);
    expect(after.epoch).not.toBe(before.epoch);
  });
});

describe('MemoryStreamStore idempotency', () => {
  it('answers duplicate for an event written to the stream again, and numbers nothing', async () => {
    const { streams, entries, lease } = await setup();
    const write = (text: string) => streams.append({ stream: 'trip:t1', eventId: 'evt-again', message: { text } }, lease);
    expect(await write('first')).toBe('appended');
    expect(await write('second')).toBe('duplicate');
    expect(entries.map((e) => e.message.text)).toEqual(['first']);
    expect((await streams.head('trip:t1')).seq).toBe(1);
  });

  it('numbers the same event id on another stream there', async () => {
    const { streams, entries, lease } = await setup();
    const write = (stream: string) => streams.append({ stream, eventId: 'evt-shared', message: { text: stream } }, lease);
    expect(await write('user:a')).toBe('appended');
    expect(await write('user:b')).toBe('appended');
    expect(entries.map((e) => [e.stream, e.seq])).toEqual([
      ['user:a', 1],
      ['user:b', 1],
    ]);
  });

  it('numbers an event again once the window has passed', async () => {
    const { streams, entries, lease } = await setup({ dedupe: { maxIds: 100, windowMs: 30 } });
    const write = () => streams.append({ stream: 'trip:t1', eventId: 'evt-late', message: { text: 'late' } }, lease);
    expect(await write()).toBe('appended');
    expect(await write()).toBe('duplicate');
    await sleep(60);
    expect(await write()).toBe('appended');
    expect(entries.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('forgets the oldest written event past its bound', async () => {
    const { streams, lease } = await setup({ dedupe: { maxIds: 2, windowMs: 60_000 } });
    const write = (eventId: string) => streams.append({ stream: 'trip:t1', eventId, message: { text: eventId } }, lease);
    await write('evt-1');
    await write('evt-2');
    await write('evt-3');
    expect(await write('evt-3')).toBe('duplicate');
    expect(await write('evt-1')).toBe('appended');
  });
});

describe('MemoryStreamStore fencing', () => {
  it('refuses a write under a lease another acquire replaced, and numbers nothing', async () => {
    const { fence, streams, entries, lease, write } = await setup();
    await write('trip:t1');
    const head = await streams.head('trip:t1');
    const next = await fence.acquire();
    // The memory store answers at once: a refused write throws, rather than rejecting later.
    expect(() => write('trip:t1', {}, lease)).toThrow(FencedError);
    expect(await streams.head('trip:t1')).toEqual({ ...head, at: expect.any(Number) });
    expect(entries).toHaveLength(1);
    expect(await streams.since('trip:t1', { seq: 0, epoch: head.epoch })).toMatchObject({ recovered: true, entries: [{ seq: 1 }] });
    expect(await write('trip:t1', {}, next)).toBe('appended');
    expect(entries.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('does not mark a refused write as written: the valid writer numbers that event', async () => {
    const { fence, streams, entries, lease } = await setup();
    const next = await fence.acquire();
    const write = (under: Lease) => streams.append({ stream: 'trip:t1', eventId: 'evt-taken-over', message: { text: 'x' } }, under);
    expect(() => write(lease)).toThrow(FencedError);
    expect(await write(next)).toBe('appended');
    expect(entries.map((e) => e.seq)).toEqual([1]);
  });
});

describe('MemoryStreamStore entries', () => {
  it('hands every entry to the listener synchronously, in numbering order', async () => {
    const { entries, write } = await setup();
    const pending = [write('trip:a'), write('trip:b'), write('trip:a')];
    // Before any of the appends resolved: the listener already has them all.
    expect(entries.map((e) => [e.stream, e.seq])).toEqual([
      ['trip:a', 1],
      ['trip:b', 1],
      ['trip:a', 2],
    ]);
    await Promise.all(pending);
    await Promise.all(Array.from({ length: 10 }, () => write('trip:a')));
    expect(entries.filter((e) => e.stream === 'trip:a').map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('carries leave on the entry, in history too, and nothing of it on the others', async () => {
    const { streams, entries, write } = await setup();
    await write('trip:t1');
    await write('trip:t1', { leave: { reason: 'removed', userId: 'u1' } });
    expect(entries[0]).not.toHaveProperty('leave');
    expect(entries[1]).toMatchObject({ seq: 2, leave: { reason: 'removed', userId: 'u1' } });
    const { epoch } = await streams.head('trip:t1');
    const recovery = await streams.since('trip:t1', { seq: 0, epoch });
    expect(recovery.recovered && recovery.entries).toEqual(entries);
  });

  it('hands out a dropping entry, then starts the stream again at seq 1 under a new epoch', async () => {
    const { streams, entries, write } = await setup();
    await write('trip:t1');
    await write('trip:t1', { leave: { reason: 'deleted' }, drop: true });
    const dropped = entries[1]!;
    expect(dropped).toMatchObject({ seq: 2, leave: { reason: 'deleted' } });
    const head = await streams.head('trip:t1');
    expect(head.seq).toBe(0);
    expect(head.epoch).not.toBe(dropped.message.epoch);
    expect(await streams.since('trip:t1', { seq: 2, epoch: dropped.message.epoch })).toMatchObject({ recovered: false });
    await write('trip:t1');
    expect(entries[2]).toMatchObject({ seq: 1, message: { seq: 1, epoch: head.epoch } });
  });

  it('keeps a dropped stream\'s event written: its redelivery numbers nothing in the new epoch', async () => {
    const { streams, entries, lease } = await setup();
    const write = () => streams.append({ stream: 'trip:t1', eventId: 'evt-deleted', message: { text: 'gone' }, drop: true }, lease);
    expect(await write()).toBe('appended');
    expect(await write()).toBe('duplicate');
    expect(entries).toHaveLength(1);
    expect((await streams.head('trip:t1')).seq).toBe(0);
  });
});

describe('MemoryStreamStore history', () => {
  it('returns every entry after a position, in order, with the head and the store clock', async () => {
    let now = 1_000;
    const { streams, entries, write } = await setup({ now: () => now });
    for (let i = 0; i < 5; i++) {
      await write('trip:t1');
      now += 10;
    }
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 2, epoch })).toEqual({
      recovered: true,
      head: { seq: 5, epoch },
      entries: entries.slice(2),
      at: now,
    });
    expect(entries.map((e) => e.at)).toEqual([1_000, 1_010, 1_020, 1_030, 1_040]);
  });

  it('recovers nothing missed at the head', async () => {
    const { streams, write } = await setup({ now: () => 7 });
    await write('trip:t1');
    const { seq, epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq, epoch })).toEqual({ recovered: true, head: { seq, epoch }, entries: [], at: 7 });
  });

  it('cannot recover once the history no longer reaches back', async () => {
    const { streams, write } = await setup({ limits: { size: 3 } });
    for (let i = 0; i < 5; i++) await write('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 1, epoch })).toEqual({ recovered: false, head: { seq: 5, epoch }, at: expect.any(Number) });
    expect(await streams.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: true, entries: [{ seq: 3 }, { seq: 4 }, { seq: 5 }] });
  });

  it('cannot recover entries older than the history age', async () => {
    let now = 1_000_000;
    const { streams, write } = await setup({ limits: { ttlMs: 1000 }, now: () => now });
    await write('trip:t1');
    await write('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    now += 1500;
    await write('trip:t1');
    expect(await streams.since('trip:t1', { seq: 0, epoch })).toMatchObject({ recovered: false, head: { seq: 3, epoch } });
    expect(await streams.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: true, entries: [{ seq: 3 }] });
  });

  /** The bytes an entry costs in history: its JSON, as the Redis store keeps it. */
  const bytesOf = (entry: StreamEntry<Note>) => Buffer.byteLength(JSON.stringify(entry));

  it('keeps no more bytes per stream than its byte cap, dropping the oldest entries first', async () => {
    const probe = await setup({ now: () => 1_000 });
    await probe.write('trip:p0');
    const size = bytesOf(probe.entries[0]!);
    const capped = await setup({ limits: { maxBytes: 3 * size + size / 2 }, now: () => 1_000 });
    for (let i = 0; i < 6; i++) await capped.write('trip:t1');
    await capped.write('trip:t2');
    expect(capped.entries.map(bytesOf).every((b) => b === size)).toBe(true);
    const { epoch } = await capped.streams.head('trip:t1');
    expect(await capped.streams.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: false, head: { seq: 6, epoch } });
    expect(await capped.streams.since('trip:t1', { seq: 3, epoch })).toMatchObject({ recovered: true, entries: [{ seq: 4 }, { seq: 5 }, { seq: 6 }] });
    // Per stream: another stream's entries do not count against it.
    const t2 = await capped.streams.head('trip:t2');
    expect(await capped.streams.since('trip:t2', { seq: 0, epoch: t2.epoch })).toMatchObject({ recovered: true, entries: [{ seq: 1 }] });
  });

  it('hands out an entry larger than the byte cap but keeps nothing up to it: no replay can reach across it', async () => {
    const { streams, entries, write, lease } = await setup({ limits: { maxBytes: 1_024 } });
    await write('trip:t1');
    await streams.append({ stream: 'trip:t1', eventId: 'evt-big', message: { text: 'x'.repeat(2_000) } }, lease);
    await write('trip:t1');
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(bytesOf(entries[1]!)).toBeGreaterThan(1_024);
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 0, epoch })).toMatchObject({ recovered: false, head: { seq: 3 } });
    expect(await streams.since('trip:t1', { seq: 1, epoch })).toMatchObject({ recovered: false, head: { seq: 3 } });
    expect(await streams.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: true, entries: [{ seq: 3 }] });
  });

  it('counts no bytes for entries that aged out: the cap fills up again after them', async () => {
    let now = 1_000_000;
    const probe = await setup({ now: () => now });
    await probe.write('trip:p0');
    const size = bytesOf(probe.entries[0]!);
    const { streams, write } = await setup({ limits: { ttlMs: 1_000, maxBytes: 3 * size + size / 2 }, now: () => now });
    for (let i = 0; i < 3; i++) await write('trip:t1');
    now += 1_500;
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 0, epoch })).toMatchObject({ recovered: false });
    for (let i = 0; i < 3; i++) await write('trip:t1');
    expect(await streams.since('trip:t1', { seq: 3, epoch })).toMatchObject({ recovered: true, entries: [{ seq: 4 }, { seq: 5 }, { seq: 6 }] });
  });

  it('replays exactly the entries within every cap after each of hundreds of appends', async () => {
    let now = 1_000_000;
    const limits = { size: 20, maxBytes: 3_000, ttlMs: 10_000 };
    const { streams, entries, lease } = await setup({ limits, now: () => now });
    const { epoch } = await streams.head('trip:t1');
    for (let i = 1; i <= 700; i++) {
      // Sizes from about 70 to 400 bytes, so that the count cap and the byte cap take turns; one entry
      // too large to keep (it clears the history); and two jumps in time, after which age drops entries.
      const text = i === 300 ? 'x'.repeat(2 * limits.maxBytes) : 'y'.repeat((i * 37) % 330);
      await streams.append({ stream: 'trip:t1', eventId: `evt-${i}`, message: { text } }, lease);
      now += i === 400 || i === 650 ? 9_990 : 1;
      // What the caps leave: the longest run of entries up to the head within all of them.
      let first = entries.length;
      let bytes = 0;
      const fits = (e: StreamEntry<Note>) => entries.length - first < limits.size && bytes + bytesOf(e) <= limits.maxBytes && e.at >= now - limits.ttlMs;
      while (first > 0 && fits(entries[first - 1]!)) bytes += bytesOf(entries[--first]!);
      const replay = await streams.since('trip:t1', { seq: first, epoch });
      expect(replay, `after ${i}`).toMatchObject({ recovered: true, entries: entries.slice(first) });
      if (first > 0) expect((await streams.since('trip:t1', { seq: first - 1, epoch })).recovered, `after ${i}`).toBe(false);
    }
  });

  it('cannot recover across epochs, or from a position it never gave out', async () => {
    const { streams, write } = await setup();
    await write('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 0, epoch: 'another-epoch' })).toMatchObject({ recovered: false, head: { seq: 1, epoch } });
    expect(await streams.since('trip:t1', { seq: 7, epoch })).toMatchObject({ recovered: false });
  });
});

describe('createMemoryStreams', () => {
  it('fences trips and users with one lease and hands both streams\' entries to one listener', async () => {
    const streams = createMemoryStreams();
    const got: string[] = [];
    streams.listen((entry) => got.push(`${entry.stream}#${entry.seq}`));
    const stale = await streams.fence.acquire();
    const lease = await streams.fence.acquire();
    const trip = { eventId: 'e1', type: 'trip.updated', tripId: 't1', time: new Date(0).toISOString(), source: 'test', data: { tripId: 't1', changes: {} } } as const;
    const note = { eventId: 'e2', type: 'info', title: 'hi', message: 'hello', time: new Date(0).toISOString() } as const;
    expect(() => streams.trips.append({ stream: 'trip:t1', eventId: 'e1', message: trip }, stale)).toThrow(FencedError);
    expect(() => streams.users.append({ stream: 'user:u1', eventId: 'e2', message: note }, stale)).toThrow(FencedError);
    expect(await streams.trips.append({ stream: 'trip:t1', eventId: 'e1', message: trip }, lease)).toBe('appended');
    expect(await streams.users.append({ stream: 'user:u1', eventId: 'e2', message: note }, lease)).toBe('appended');
    expect(got).toEqual(['trip:t1#1', 'user:u1#1']);
    // In one process, appends and joins share one lock.
    expect(streams.writeLock).toBe(streams.lock);
  });
});

describe('MemoryMembershipStore', () => {
  const lease: Lease = { token: 'any' };

  it('keeps the latest change of a user in a trip, and the deletion of the trip', async () => {
    const membership = new MemoryMembershipStore();
    expect(await membership.lookup('t1', 'u1')).toEqual({});
    await membership.record('t1', 'u1', { change: 'removed', at: 10 }, lease);
    await membership.record('t1', 'u1', { change: 'added', at: 20 }, lease);
    await membership.record('t1', undefined, { change: 'deleted', at: 30 }, lease);
    expect(await membership.lookup('t1', 'u1')).toEqual({
      member: { change: 'added', at: 20 },
      deleted: { change: 'deleted', at: 30 },
    });
    expect(await membership.lookup('t1', 'u2')).toEqual({ deleted: { change: 'deleted', at: 30 } });
    expect(await membership.lookup('t2', 'u1')).toEqual({});
  });

  it('forgets facts after their time limit', async () => {
    const membership = new MemoryMembershipStore({ maxFacts: 10, ttlMs: 30 });
    await membership.record('t1', 'u1', { change: 'removed', at: 10 }, lease);
    await sleep(60);
    expect(await membership.lookup('t1', 'u1')).toEqual({});
  });

  it('forgets the least recently recorded facts past its bound', async () => {
    const membership = new MemoryMembershipStore({ maxFacts: 2, ttlMs: 60_000 });
    for (const user of ['u1', 'u2', 'u3']) await membership.record('t1', user, { change: 'added', at: 1 }, lease);
    expect(await membership.lookup('t1', 'u1')).toEqual({});
    expect(await membership.lookup('t1', 'u3')).toEqual({ member: { change: 'added', at: 1 } });
  });

  it('refuses a fact under a lease another acquire replaced, keeping the fact before it', async () => {
    const fence = new MemoryFence();
    const membership = new MemoryMembershipStore({ maxFacts: 10, ttlMs: 60_000 }, fence);
    const stale = await fence.acquire();
    await membership.record('t1', 'u1', { change: 'added', at: 10 }, stale);
    const valid = await fence.acquire();
    await expect(membership.record('t1', 'u1', { change: 'removed', at: 20 }, stale)).rejects.toBeInstanceOf(FencedError);
    await expect(membership.record('t1', undefined, { change: 'deleted', at: 20 }, stale)).rejects.toBeInstanceOf(FencedError);
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: 10 } });
    await membership.record('t1', 'u1', { change: 'removed', at: 30 }, valid);
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'removed', at: 30 } });
  });

  describe('orders facts by their time', () => {
    it.each(ORDER_CASES)('$name', async ({ user, facts, outcomes, kept }) => {
      const membership = new MemoryMembershipStore();
      const got = [];
      for (const fact of facts) got.push(await membership.record('t1', user, fact, lease));
      expect(got).toEqual(outcomes);
      const { member, deleted } = await membership.lookup('t1', user ?? 'anyone');
      expect(user === undefined ? deleted : member).toEqual(kept);
    });

    it('orders a user\'s facts apart from the trip\'s deletion and from other users\' facts', async () => {
      const membership = new MemoryMembershipStore();
      expect(await membership.record('t1', 'u1', { change: 'removed', at: 200 }, lease)).toBe('recorded');
      expect(await membership.record('t1', undefined, { change: 'deleted', at: 100 }, lease)).toBe('recorded');
      expect(await membership.record('t1', 'u2', { change: 'added', at: 100 }, lease)).toBe('recorded');
      expect(await membership.record('t2', 'u1', { change: 'added', at: 100 }, lease)).toBe('recorded');
      expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'removed', at: 200 }, deleted: { change: 'deleted', at: 100 } });
    });

    it('records any fact again once the stored one has expired', async () => {
      const membership = new MemoryMembershipStore({ maxFacts: 10, ttlMs: 30 });
      await membership.record('t1', 'u1', { change: 'removed', at: 200 }, lease);
      await sleep(60);
      expect(await membership.record('t1', 'u1', { change: 'added', at: 100 }, lease)).toBe('recorded');
    });
  });

  it('records under any lease when it has no fence', async () => {
    const membership = new MemoryMembershipStore();
    await membership.record('t1', 'u1', { change: 'added', at: 10 }, { token: 'never acquired' });
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: 10 } });
  });
});

describe('MemoryDedupeStore', () => {
  it('has seen an id only once it was remembered', async () => {
    const dedupe = new MemoryDedupeStore();
    expect(await dedupe.seen('evt-1')).toBe(false);
    expect(await dedupe.seen('evt-1')).toBe(false); // asking does not remember
    await dedupe.remember('evt-1');
    expect(await dedupe.seen('evt-1')).toBe(true);
    expect(await dedupe.seen('evt-2')).toBe(false);
  });

  it('forgets an id once the window has passed', async () => {
    const dedupe = new MemoryDedupeStore({ maxIds: 100, windowMs: 30 });
    await dedupe.remember('evt-1');
    expect(await dedupe.seen('evt-1')).toBe(true);
    await sleep(60);
    expect(await dedupe.seen('evt-1')).toBe(false);
  });

  it('forgets the oldest id once more ids than its bound are held', async () => {
    const dedupe = new MemoryDedupeStore({ maxIds: 2, windowMs: 60_000 });
    for (const id of ['evt-1', 'evt-2', 'evt-3']) await dedupe.remember(id);
    expect(await dedupe.seen('evt-1')).toBe(false);
    expect(await dedupe.seen('evt-3')).toBe(true);
  });

  it('forgets every id once closed', async () => {
    const dedupe = new MemoryDedupeStore();
    await dedupe.remember('evt-1');
    await dedupe.close();
    expect(await dedupe.seen('evt-1')).toBe(false);
  });
});
