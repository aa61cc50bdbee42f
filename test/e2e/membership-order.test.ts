import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, redisUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until, waitFor, type TestSocket } from '../helpers/client.js';
import { deleteKeys } from '../helpers/cluster.js';
import { signToken } from '../helpers/tokens.js';

/** An ISO time `seconds` from now: what a publisher stamps on an event it sends late, or early. */
const at = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

const setups = [
  { name: 'one instance, state in memory', env: {} as Record<string, string>, skip: !amqpUrl },
  { name: 'state in Redis', env: { REDIS_URL: redisUrl ?? '' }, skip: !amqpUrl || !redisUrl },
];

for (const setup of setups) {
  describe.skipIf(setup.skip)(`membership ordered by event time through the broker (${setup.name})`, { timeout: 15_000 }, () => {
    let t: TestBridge;
    const sockets: TestSocket[] = [];

    async function connect(sub: string, claims: { trips?: string[]; role?: 'admin' } = {}) {
      const { socket } = await connectClient(t.url, await signToken({ sub, ...claims }));
      sockets.push(socket);
      return socket;
    }
    const publish = (type: string, data: unknown, time: string) => t.amqp.publishEvent(t.config.AMQP_EXCHANGE, type, data, { time });

    let markers = 0;
    /**
     * Publishes a marker event on the trip and waits until `inRoom` (a socket in its room) receives it:
     * the trip's events before it were handled, since one trip's events are handled in order.
     */
    async function settled(inRoom: TestSocket, tripId: string) {
      const marker = `marker-${markers++}`;
      const seen = collect(inRoom, 'trip:updated');
      await publish('trip.activity', { tripId, kind: marker, payload: {} }, at(0));
      await until(() => seen.some((m) => m.type === 'trip.activity' && (m.data as { kind?: string }).kind === marker), 5_000, marker);
    }

    /** An admin in the trip's room, to watch what the room receives. */
    async function watch(tripId: string) {
      const watcher = await connect(`watcher-${tripId}`, { role: 'admin' });
      expect(await request(watcher, 'trip:join', { tripId })).toMatchObject({ ok: true });
      return watcher;
    }

    beforeAll(async () => {
      t = await startTestBridge(setup.env);
    });
    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      await t?.stop();
      if (setup.env.REDIS_URL) await deleteKeys(setup.env.REDIS_URL, `${t.config.AMQP_QUEUE}:*`);
    });

    it('refuses the join of a user whose addition, a minute older than their removal, arrived after it', async () => {
      const watcher = await watch('o-late-add');
      const seen = collect(watcher, 'trip:updated');
      const late = await connect('late-1');
      await publish('trip.member.removed', { tripId: 'o-late-add', userId: 'late-1' }, at(0));
      await publish('trip.member.added', { tripId: 'o-late-add', userId: 'late-1' }, at(-60));
      await settled(watcher, 'o-late-add');
      // Both events are delivered to the room: only the membership ignores the older one.
      expect(seen.map((m) => m.type)).toEqual(['trip.member.removed', 'trip.member.added', 'trip.activity']);
      expect(await request(late, 'trip:join', { tripId: 'o-late-add' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    });

    it('keeps a member in the trip when a removal older than their addition arrives after it', async () => {
      const watcher = await watch('o-late-rm');
      const member = await connect('kept-1');
      await publish('trip.member.added', { tripId: 'o-late-rm', userId: 'kept-1' }, at(0));
      await settled(watcher, 'o-late-rm');
      expect(await request(member, 'trip:join', { tripId: 'o-late-rm' })).toMatchObject({ ok: true });
      const left = collect(member, 'trip:left');
      const userLeft = collect(watcher, 'user:left');
      const seen = collect(member, 'trip:updated');
      await publish('trip.member.removed', { tripId: 'o-late-rm', userId: 'kept-1' }, at(-60));
      // The marker reaches the member: still in the room.
      await settled(member, 'o-late-rm');
      expect(seen.map((m) => m.type)).toEqual(['trip.member.removed', 'trip.activity']);
      expect(left).toEqual([]);
      expect(userLeft).toEqual([]);
      // Still allowed: it may publish.
      expect(await request(member, 'trip:update', { tripId: 'o-late-rm', changes: { n: 2 } })).toMatchObject({ ok: true });
    });

    it('lets a removal win over an addition stamped with the same time, whichever arrives last', async () => {
      const watcher = await watch('o-tie');
      const user = await connect('tied-1');
      const same = at(0);
      await publish('trip.member.removed', { tripId: 'o-tie', userId: 'tied-1' }, same);
      await publish('trip.member.added', { tripId: 'o-tie', userId: 'tied-1' }, same);
      await settled(watcher, 'o-tie');
      expect(await request(user, 'trip:join', { tripId: 'o-tie' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      // A later addition grants the trip again.
      await publish('trip.member.added', { tripId: 'o-tie', userId: 'tied-1' }, at(1));
      await settled(watcher, 'o-tie');
      expect(await request(user, 'trip:join', { tripId: 'o-tie' })).toMatchObject({ ok: true });
    });

    it('does not empty the room for a deletion older than the one kept', async () => {
      const before = await watch('o-del');
      const deleted = waitFor(before, 'trip:left');
      await publish('trip.deleted', { tripId: 'o-del' }, at(0));
      expect(await deleted).toEqual({ tripId: 'o-del', reason: 'deleted' });
      const owner = await connect('owner-1', { role: 'admin' });
      const joined = await request(owner, 'trip:join', { tripId: 'o-del' });
      const left = collect(owner, 'trip:left');
      const seen = collect(owner, 'trip:updated');
      await publish('trip.deleted', { tripId: 'o-del' }, at(-60));
      await settled(owner, 'o-del');
      expect(left).toEqual([]);
      // Delivered in the same epoch, which the stale deletion did not end.
      expect(seen.map((m) => [m.type, m.seq, m.epoch])).toEqual([
        ['trip.deleted', 1, joined.ok ? joined.epoch : ''],
        ['trip.activity', 2, joined.ok ? joined.epoch : ''],
      ]);
    });
  });
}
