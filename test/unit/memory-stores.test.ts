import { describe, it, expect } from 'vitest';
import type { StreamHead } from '../../src/state/stores.js';
import {
  DEFAULT_HISTORY,
  MemoryDedupeStore,
  MemoryMembershipStore,
  MemoryStreamStore,
  type HistoryLimits,
} from '../../src/state/memory-stores.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store whose messages are their own positions, so that tests read seq and epoch back. */
function store(limits: Partial<HistoryLimits> = {}, now?: () => number) {
  const streams = new MemoryStreamStore<StreamHead>({ ...DEFAULT_HISTORY, ...limits }, now);
  let events = 0;
  return { streams, next: (stream: string) => streams.append(stream, `evt-${events++}`, (head) => head) };
}

describe('MemoryStreamStore numbering', () => {
  it('gives a new stream head seq 0 with a non-empty epoch', async () => {
    const { streams } = store();
    const head = await streams.head('trip:t1');
    expect(head.seq).toBe(0);
    expect(head.epoch).toMatch(/.+/);
  });

  it('counts appends 1, 2, 3 in the epoch the head showed', async () => {
    const { streams, next } = store();
    const { epoch } = await streams.head('trip:t1');
    const positions = [await next('trip:t1'), await next('trip:t1'), await next('trip:t1')];
    expect(positions).toEqual([
      { seq: 1, epoch },
      { seq: 2, epoch },
      { seq: 3, epoch },
    ]);
    expect(await streams.head('trip:t1')).toEqual({ seq: 3, epoch });
  });

  it('gives an event appended again its first message back, without numbering it twice', async () => {
    const { streams, next } = store();
    const first = await streams.append('trip:t1', 'evt-again', (head) => head);
    expect(await streams.append('trip:t1', 'evt-again', () => ({ seq: -1, epoch: 'never built' }))).toBe(first);
    expect(await next('trip:t1')).toEqual({ seq: 2, epoch: first.epoch });
  });

  it('numbers each stream on its own', async () => {
    const { streams, next } = store();
    await next('trip:a');
    await next('trip:a');
    expect((await next('trip:b')).seq).toBe(1);
    expect((await streams.head('trip:a')).seq).toBe(2);
  });

  it('hands out consecutive seqs to concurrent callers of one stream', async () => {
    const { next } = store();
    const heads = await Promise.all(Array.from({ length: 20 }, () => next('trip:t1')));
    expect(heads.map((h) => h.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('forgets the least recently used streams past its message budget, restarting them under a new epoch', async () => {
    // Each stream costs its history plus one: with one message each, two streams fit in 4.
    const { next } = store({ size: 1, maxMessages: 4 });
    await next('trip:a');
    const before = await next('trip:a');
    await next('trip:b');
    await next('trip:c'); // evicts trip:a, the least recently used
    const after = await next('trip:a');
    expect(before.seq).toBe(2);
    expect(after.seq).toBe(1);
    expect(after.epoch).not.toBe(before.epoch);
  });

  it('gives two store instances (two processes) different epochs for the same stream', async () => {
    const one = await store().streams.head('trip:t1');
    const two = await store().streams.head('trip:t1');
    expect(one.epoch).not.toBe(two.epoch);
  });

  it('starts a dropped stream again at seq 1 under a new epoch', async () => {
    const { streams, next } = store();
    const first = await next('trip:t1');
    await streams.drop('trip:t1');
    const again = await next('trip:t1');
    expect(again.seq).toBe(1);
    expect(again.epoch).not.toBe(first.epoch);
  });
});

describe('MemoryStreamStore history', () => {
  it('returns every message after a position, in order', async () => {
    const { streams, next } = store();
    for (let i = 0; i < 5; i++) await next('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    const recovery = await streams.since('trip:t1', { seq: 2, epoch });
    expect(recovery).toEqual({
      recovered: true,
      head: { seq: 5, epoch },
      messages: [3, 4, 5].map((seq) => ({ seq, epoch })),
    });
  });

  it('recovers nothing missed at the head', async () => {
    const { streams, next } = store();
    await next('trip:t1');
    const head = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', head)).toEqual({ recovered: true, head, messages: [] });
  });

  it('cannot recover once the history no longer reaches back', async () => {
    const { streams, next } = store({ size: 3 });
    for (let i = 0; i < 5; i++) await next('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 1, epoch })).toMatchObject({ recovered: false, head: { seq: 5 } });
    expect(await streams.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: true, messages: [{ seq: 3 }, { seq: 4 }, { seq: 5 }] });
  });

  it('cannot recover messages older than the history age', async () => {
    let now = 1_000_000;
    const { streams, next } = store({ ttlMs: 1000 }, () => now);
    await next('trip:t1');
    await next('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    now += 1500;
    await next('trip:t1');
    expect(await streams.since('trip:t1', { seq: 0, epoch })).toMatchObject({ recovered: false });
    expect(await streams.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: true, messages: [{ seq: 3 }] });
  });

  it('cannot recover across epochs, or from a position it never gave out', async () => {
    const { streams, next } = store();
    await next('trip:t1');
    const { epoch } = await streams.head('trip:t1');
    expect(await streams.since('trip:t1', { seq: 0, epoch: 'another-epoch' })).toMatchObject({ recovered: false, head: { seq: 1, epoch } });
    expect(await streams.since('trip:t1', { seq: 7, epoch })).toMatchObject({ recovered: false });
  });
});

describe('MemoryMembershipStore', () => {
  it('keeps the latest change of a user in a trip, and the deletion of the trip', async () => {
    const membership = new MemoryMembershipStore();
    expect(await membership.lookup('t1', 'u1')).toEqual({});
    await membership.record('t1', 'u1', { change: 'removed', at: 10 });
    await membership.record('t1', 'u1', { change: 'added', at: 20 });
    await membership.recordDeleted('t1', 30);
    expect(await membership.lookup('t1', 'u1')).toEqual({
      member: { change: 'added', at: 20 },
      deleted: { change: 'deleted', at: 30 },
    });
    expect(await membership.lookup('t1', 'u2')).toEqual({ deleted: { change: 'deleted', at: 30 } });
  });

  it('forgets facts after their time limit', async () => {
    const membership = new MemoryMembershipStore({ maxFacts: 10, ttlMs: 30 });
    await membership.record('t1', 'u1', { change: 'removed', at: 10 });
    await sleep(60);
    expect(await membership.lookup('t1', 'u1')).toEqual({});
  });
});

describe('MemoryDedupeStore', () => {
  it('claims a new id once; a second claim of it fails', async () => {
    const dedupe = new MemoryDedupeStore();
    expect(await dedupe.claim('evt-1')).toBe('new');
    expect(await dedupe.claim('evt-1')).toBe('seen');
    expect(await dedupe.claim('evt-2')).toBe('new');
  });

  it('lets a released id be claimed again', async () => {
    const dedupe = new MemoryDedupeStore();
    await dedupe.claim('evt-1');
    await dedupe.release('evt-1');
    expect(await dedupe.claim('evt-1')).toBe('new');
    expect(await dedupe.claim('evt-1')).toBe('seen');
  });

  it('forgets an id once the window has passed', async () => {
    const dedupe = new MemoryDedupeStore({ maxIds: 100, windowMs: 30 });
    expect(await dedupe.claim('evt-1')).toBe('new');
    expect(await dedupe.claim('evt-1')).toBe('seen');
    await sleep(60);
    expect(await dedupe.claim('evt-1')).toBe('new');
  });

  it('forgets the oldest id once more ids than its bound are held', async () => {
    const dedupe = new MemoryDedupeStore({ maxIds: 2, windowMs: 60_000 });
    await dedupe.claim('evt-1');
    await dedupe.claim('evt-2');
    await dedupe.claim('evt-3');
    expect(await dedupe.claim('evt-1')).toBe('new');
    expect(await dedupe.claim('evt-3')).toBe('seen');
  });
});
