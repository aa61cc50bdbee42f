import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, redisUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
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

    /** Publishes a notification to `socket`'s user after the events before it and waits for it: they were handled. */
    async function settled(socket: TestSocket, userId: string) {
      const marker = waitFor(socket, 'notification');
      await publish('notification.created', { userId, notification: { type: 'info', title: 'marker', message: '' } }, at(0));
      await marker;
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
      const watcher = await connect('watcher-1', { role: 'admin' });
      await request(watcher, 'trip:join', { tripId: 'o-late-add' });
      const seen = collect(watcher, 'trip:updated');
      const late = await connect('late-1');
      await publish('trip.member.removed', { tripId: 'o-late-add', userId: 'late-1' }, at(0));
      await publish('trip.member.added', { tripId: 'o-late-add', userId: 'late-1' }, at(-60));
      await settled(late, 'late-1');
      // Both events are delivered to the room: only the membership ignores the older one.
      expect(seen.map((m) => m.type)).toEqual(['trip.member.removed', 'trip.member.added']);
      expect(await request(late, 'trip:join', { tripId: 'o-late-add' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    });

    it('keeps a member in the trip when a removal older than their addition arrives after it', async () => {
      const member = await connect('kept-1');
      await publish('trip.member.added', { tripId: 'o-late-rm', userId: 'kept-1' }, at(0));
      await settled(member, 'kept-1');
      expect(await request(member, 'trip:join', { tripId: 'o-late-rm' })).toMatchObject({ ok: true });
      const left = collect(member, 'trip:left');
      const seen = collect(member, 'trip:updated');
      await publish('trip.member.removed', { tripId: 'o-late-rm', userId: 'kept-1' }, at(-60));
      await settled(member, 'kept-1');
      expect(seen.map((m) => m.type)).toEqual(['trip.member.removed']);
      expect(left).toEqual([]);
      // Still in the room and still allowed: later events reach it, and it may publish.
      const next = waitFor(member, 'trip:updated');
      await publish('trip.updated', { tripId: 'o-late-rm', changes: { n: 1 } }, at(0));
      expect(await next).toMatchObject({ type: 'trip.updated' });
      expect(await request(member, 'trip:update', { tripId: 'o-late-rm', changes: { n: 2 } })).toMatchObject({ ok: true });
    });

    it('lets a removal win over an addition stamped with the same time, whichever arrives last', async () => {
      const user = await connect('tied-1');
      const same = at(0);
      await publish('trip.member.removed', { tripId: 'o-tie', userId: 'tied-1' }, same);
      await publish('trip.member.added', { tripId: 'o-tie', userId: 'tied-1' }, same);
      await settled(user, 'tied-1');
      expect(await request(user, 'trip:join', { tripId: 'o-tie' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      // A later addition grants the trip again.
      await publish('trip.member.added', { tripId: 'o-tie', userId: 'tied-1' }, at(1));
      await settled(user, 'tied-1');
      expect(await request(user, 'trip:join', { tripId: 'o-tie' })).toMatchObject({ ok: true });
    });

    it('does not empty the room for a deletion older than the one kept', async () => {
      const owner = await connect('owner-1', { role: 'admin' });
      await publish('trip.deleted', { tripId: 'o-del' }, at(0));
      await settled(owner, 'owner-1');
      expect(await request(owner, 'trip:join', { tripId: 'o-del' })).toMatchObject({ ok: true });
      const left = collect(owner, 'trip:left');
      const seen = waitFor(owner, 'trip:updated');
      await publish('trip.deleted', { tripId: 'o-del' }, at(-60));
      expect(await seen).toMatchObject({ type: 'trip.deleted' });
      await settled(owner, 'owner-1');
      expect(left).toEqual([]);
    });
  });
}
