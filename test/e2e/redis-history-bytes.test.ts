import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_HISTORY, type HistoryLimits } from '../../src/state/memory-stores.js';
import { RedisFence } from '../../src/state/redis-stores.js';
import { redisKeys, RedisStreamStore } from '../../src/state/redis-streams.js';
import type { Lease, StreamHead } from '../../src/state/stores.js';
import { redisUrl } from '../helpers/bridge.js';
import { deleteKeys } from '../helpers/cluster.js';

interface Note {
  seq: number;
  epoch: string;
  text: string;
}

const run = `test:redis-history-bytes:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
let tests = 0;

describe.skipIf(!redisUrl)('Redis history capped in bytes (HISTORY_MAX_BYTES)', { timeout: 10_000 }, () => {
  const url = redisUrl!;
  let client: RedisClientType;
  let prefix: string;
  let keys: ReturnType<typeof redisKeys>;
  let events = 0;

  beforeAll(async () => {
    client = createClient({ url });
    client.on('error', () => undefined);
    await client.connect();
  });
  beforeEach(() => {
    prefix = `${run}:${tests++}:`;
    keys = redisKeys(prefix);
  });
  afterEach(async () => {
    await deleteKeys(url, `${prefix}*`);
  });
  afterAll(async () => {
    if (client?.isOpen) await client.quit();
  });

  async function setup(limits: Partial<HistoryLimits>) {
    const lease: Lease = await new RedisFence(client, prefix).acquire();
    const store = new RedisStreamStore<Note>(client, { prefix, limits: { ...DEFAULT_HISTORY, ...limits }, windowMs: 60_000 });
    const write = (stream: string, text = 'note') => store.append({ stream, eventId: `evt-${events++}`, message: { text } }, lease);
    return { store, write };
  }

  /** The bytes of every entry kept in a stream's list, and the counter kept beside them. */
  async function accounting(stream: string) {
    const kept = await client.lRange(keys.history(stream), 0, -1);
    const counter = await client.hGet(keys.stream(stream), 'bytes');
    return { sizes: kept.map((json) => Buffer.byteLength(json)), counter: Number(counter ?? 0) };
  }

  const seqsSince = async (store: RedisStreamStore<Note>, stream: string, position: StreamHead) => {
    const recovery = await store.since(stream, position);
    return recovery.recovered ? recovery.entries.map((e) => e.seq) : 'not recovered';
  };

  it('trims the oldest entries while the bytes kept are over the cap, and since() cannot reach past them', async () => {
    const probe = await setup({});
    await probe.write('trip:p0');
    const [size] = (await accounting('trip:p0')).sizes;
    const { store, write } = await setup({ maxBytes: 3 * size! + 10 });
    for (let i = 0; i < 6; i++) await write('trip:t1');
    const { sizes, counter } = await accounting('trip:t1');
    expect(sizes).toHaveLength(3);
    expect(counter).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(counter).toBeLessThanOrEqual(3 * size! + 10);
    const { epoch } = await store.head('trip:t1');
    expect(await store.since('trip:t1', { seq: 2, epoch })).toMatchObject({ recovered: false, head: { seq: 6, epoch } });
    expect(await seqsSince(store, 'trip:t1', { seq: 3, epoch })).toEqual([4, 5, 6]);
  });

  it('counts real bytes (UTF-8), not characters, and keeps the counter equal to the list through both caps', async () => {
    const { store, write } = await setup({ size: 5, maxBytes: 2_000 });
    const texts = ['é'.repeat(300), 'a', '€'.repeat(100), 'b'.repeat(500), 'c', '日本'.repeat(50), 'd'.repeat(900), 'e', 'f', 'g', 'h'];
    for (const text of texts) {
      await write('trip:t2', text);
      const { sizes, counter } = await accounting('trip:t2');
      expect(counter).toBe(sizes.reduce((a, b) => a + b, 0));
      expect(counter).toBeLessThanOrEqual(2_000);
      expect(sizes.length).toBeLessThanOrEqual(5);
    }
    const { epoch, seq } = await store.head('trip:t2');
    expect(await seqsSince(store, 'trip:t2', { seq: seq - 5, epoch })).toEqual([7, 8, 9, 10, 11]);
  });

  it('hands out an entry larger than the cap but keeps nothing up to it', async () => {
    const { store, write } = await setup({ maxBytes: 1_024 });
    const sub = client.duplicate();
    sub.on('error', () => undefined);
    await sub.connect();
    const published: string[] = [];
    await sub.subscribe(keys.entries, (json) => published.push(json));
    try {
      await write('trip:t3');
      await write('trip:t3', 'x'.repeat(2_000));
      expect(await accounting('trip:t3')).toEqual({ sizes: [], counter: 0 });
      await write('trip:t3');
      const deadline = Date.now() + 5_000;
      while (published.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(published.map((json) => (JSON.parse(json) as { seq: number }).seq)).toEqual([1, 2, 3]);
      const { epoch } = await store.head('trip:t3');
      expect(await store.since('trip:t3', { seq: 1, epoch })).toMatchObject({ recovered: false, head: { seq: 3 } });
      expect(await seqsSince(store, 'trip:t3', { seq: 2, epoch })).toEqual([3]);
    } finally {
      await sub.quit();
    }
  });

  it('starts the counter again when the history was lost while the head lived on', async () => {
    const { store, write } = await setup({ maxBytes: 5_000 });
    for (let i = 0; i < 3; i++) await write('trip:t4', 'y'.repeat(1_000));
    await client.del(keys.history('trip:t4'));
    for (let i = 0; i < 4; i++) await write('trip:t4', 'y'.repeat(1_000));
    const { sizes, counter } = await accounting('trip:t4');
    expect(sizes).toHaveLength(4);
    expect(counter).toBe(sizes.reduce((a, b) => a + b, 0));
    const { epoch } = await store.head('trip:t4');
    expect(await seqsSince(store, 'trip:t4', { seq: 3, epoch })).toEqual([4, 5, 6, 7]);
  });

  it('counts a history kept before the counter existed (an older version\'s) once, then caps it', async () => {
    const { write } = await setup({ maxBytes: 5_000 });
    for (let i = 0; i < 4; i++) await write('trip:t5', 'z'.repeat(1_000));
    await client.hDel(keys.stream('trip:t5'), 'bytes');
    await write('trip:t5', 'z'.repeat(1_000));
    const { sizes, counter } = await accounting('trip:t5');
    expect(counter).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(counter).toBeLessThanOrEqual(5_000);
    expect(sizes.length).toBeLessThan(5);
  });
});
