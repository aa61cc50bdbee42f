import { describe, it, expect } from 'vitest';
import { MemoryDedupeStore, MemoryStreamStore } from '../../src/state/memory-stores.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('MemoryStreamStore', () => {
  it('gives a new stream head seq 0 with a non-empty epoch', async () => {
    const streams = new MemoryStreamStore();
    const head = await streams.head('trip:t1');
    expect(head.seq).toBe(0);
    expect(head.epoch).toMatch(/.+/);
  });

  it('counts next() 1, 2, 3 in the epoch the head showed', async () => {
    const streams = new MemoryStreamStore();
    const { epoch } = await streams.head('trip:t1');
    const positions = [await streams.next('trip:t1'), await streams.next('trip:t1'), await streams.next('trip:t1')];
    expect(positions).toEqual([
      { seq: 1, epoch },
      { seq: 2, epoch },
      { seq: 3, epoch },
    ]);
    expect(await streams.head('trip:t1')).toEqual({ seq: 3, epoch });
  });

  it('numbers each stream on its own', async () => {
    const streams = new MemoryStreamStore();
    await streams.next('trip:a');
    await streams.next('trip:a');
    expect((await streams.next('trip:b')).seq).toBe(1);
    expect((await streams.head('trip:a')).seq).toBe(2);
  });

  it('hands out consecutive seqs to concurrent callers of one stream', async () => {
    const streams = new MemoryStreamStore();
    const heads = await Promise.all(Array.from({ length: 20 }, () => streams.next('trip:t1')));
    expect(heads.map((h) => h.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('restarts a stream evicted by the LRU bound at seq 1 under a new epoch', async () => {
    const streams = new MemoryStreamStore(2);
    await streams.next('trip:a');
    const before = await streams.next('trip:a');
    await streams.next('trip:b');
    await streams.next('trip:c'); // evicts trip:a, the least recently used

    const after = await streams.next('trip:a');
    expect(before.seq).toBe(2);
    expect(after.seq).toBe(1);
    expect(after.epoch).not.toBe(before.epoch);
  });

  it('keeps a recently used stream when another one is evicted', async () => {
    const streams = new MemoryStreamStore(2);
    const a = await streams.next('trip:a');
    await streams.next('trip:b');
    await streams.next('trip:a'); // trip:a is now more recent than trip:b
    await streams.next('trip:c'); // evicts trip:b
    expect(await streams.next('trip:a')).toEqual({ seq: 3, epoch: a.epoch });
  });

  it('gives two store instances (two processes) different epochs for the same stream', async () => {
    const one = await new MemoryStreamStore().head('trip:t1');
    const two = await new MemoryStreamStore().head('trip:t1');
    expect(one.epoch).not.toBe(two.epoch);
  });

  it('forgets every stream on close, so numbering restarts under a new epoch', async () => {
    const streams = new MemoryStreamStore();
    const first = await streams.next('trip:t1');
    await streams.close();
    const again = await streams.next('trip:t1');
    expect(again.seq).toBe(1);
    expect(again.epoch).not.toBe(first.epoch);
  });
});

describe('MemoryDedupeStore', () => {
  it('claims a new id once; a second claim of it fails', async () => {
    const dedupe = new MemoryDedupeStore();
    expect(await dedupe.claim('evt-1')).toBe(true);
    expect(await dedupe.claim('evt-1')).toBe(false);
    expect(await dedupe.claim('evt-2')).toBe(true);
  });

  it('lets a released id be claimed again', async () => {
    const dedupe = new MemoryDedupeStore();
    await dedupe.claim('evt-1');
    await dedupe.release('evt-1');
    expect(await dedupe.claim('evt-1')).toBe(true);
    expect(await dedupe.claim('evt-1')).toBe(false);
  });

  it('forgets an id once the window has passed', async () => {
    const dedupe = new MemoryDedupeStore(100, 30);
    expect(await dedupe.claim('evt-1')).toBe(true);
    expect(await dedupe.claim('evt-1')).toBe(false);
    await sleep(60);
    expect(await dedupe.claim('evt-1')).toBe(true);
  });

  it('forgets the oldest id once more ids than its bound are held', async () => {
    const dedupe = new MemoryDedupeStore(2, 60_000);
    await dedupe.claim('evt-1');
    await dedupe.claim('evt-2');
    await dedupe.claim('evt-3');
    expect(await dedupe.claim('evt-1')).toBe(true);
    expect(await dedupe.claim('evt-3')).toBe(false);
  });
});
