import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, redisUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until, type TestSocket } from '../helpers/client.js';
import { deleteKeys } from '../helpers/cluster.js';
import { signToken } from '../helpers/tokens.js';

const MAX_BYTES = 4096;

const setups = [
  { name: 'one instance, state in memory', env: {} as Record<string, string>, skip: !amqpUrl },
  { name: 'state in Redis', env: { REDIS_URL: redisUrl ?? '' }, skip: !amqpUrl || !redisUrl },
];

for (const setup of setups) {
  describe.skipIf(setup.skip)(`HISTORY_MAX_BYTES on a running bridge (${setup.name})`, { timeout: 15_000 }, () => {
    let t: TestBridge;
    const sockets: TestSocket[] = [];

    async function connect(sub: string, trips: string[]) {
      const { socket } = await connectClient(t.url, await signToken({ sub, trips }));
      sockets.push(socket);
      return socket;
    }
    const update = (tripId: string, padding: number) =>
      t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: { pad: 'x'.repeat(padding) } });

    beforeAll(async () => {
      t = await startTestBridge({ ...setup.env, HISTORY_MAX_BYTES: String(MAX_BYTES) });
    });
    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      await t?.stop();
      if (setup.env.REDIS_URL) await deleteKeys(setup.env.REDIS_URL, `${t.config.AMQP_QUEUE}:*`);
    });

    it('replays only what fits in the byte cap: from further back, recovered is false', async () => {
      const tripId = 'b-cap';
      const watcher = await connect('watcher', [tripId]);
      const first = await request(watcher, 'trip:join', { tripId });
      const epoch = first.ok ? first.epoch : '';
      const live = collect(watcher, 'trip:updated');
      // About 1 KiB each: a handful fit in 4 KiB, well under HISTORY_SIZE (100).
      for (let i = 0; i < 10; i++) await update(tripId, 900);
      await until(() => live.length === 10, 5_000, 'ten live events');

      const late = await connect('late', [tripId]);
      expect(await request(late, 'trip:join', { tripId, since: { seq: 0, epoch } })).toMatchObject({ ok: true, recovered: false, seq: 10 });
      const replayed = collect(late, 'trip:updated');
      await request(late, 'trip:leave', { tripId });
      expect(await request(late, 'trip:join', { tripId, since: { seq: 8, epoch } })).toMatchObject({ ok: true, recovered: true, seq: 10 });
      expect(replayed.map((e) => e.seq)).toEqual([9, 10]);
    });

    it('delivers an event larger than the cap live, but no replay reaches across it', async () => {
      const tripId = 'b-big';
      const watcher = await connect('watcher', [tripId]);
      const first = await request(watcher, 'trip:join', { tripId });
      const epoch = first.ok ? first.epoch : '';
      const live = collect(watcher, 'trip:updated');
      await update(tripId, 100);
      await update(tripId, MAX_BYTES + 100);
      await update(tripId, 100);
      await until(() => live.length === 3, 5_000, 'three live events');
      expect(live.map((e) => e.seq)).toEqual([1, 2, 3]);

      const late = await connect('late', [tripId]);
      expect(await request(late, 'trip:join', { tripId, since: { seq: 1, epoch } })).toMatchObject({ ok: true, recovered: false, seq: 3 });
      await request(late, 'trip:leave', { tripId });
      expect(await request(late, 'trip:join', { tripId, since: { seq: 2, epoch } })).toMatchObject({ ok: true, recovered: true, seq: 3 });
    });
  });
}
