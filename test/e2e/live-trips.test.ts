import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { uniqueName } from '../helpers/amqp.js';
import { collect, connectClient, createClient, request, until, waitFor, type TestSocket } from '../helpers/client.js';
import { publishTripStream, stepOf } from '../helpers/stream.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('live trips: membership, presence and recovery', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];
  const HISTORY_SIZE = 40;

  async function connect(sub: string, claims: { trips?: string[]; name?: string } = {}, auth: Record<string, unknown> = {}) {
    const token = await signToken({ sub, ...claims });
    const { socket, connected } = await connectClient(t.url, token, { auth: { token, ...auth } });
    sockets.push(socket);
    return { socket, connected };
  }
  const publish = (type: string, data: unknown) => t.amqp.publishEvent(t.config.AMQP_EXCHANGE, type, data);

  beforeAll(async () => {
    t = await startTestBridge({ HISTORY_SIZE: String(HISTORY_SIZE) });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  describe('membership', () => {
    it('lets a user added by trip.member.added join a trip the token does not list', async () => {
      const { socket } = await connect('newcomer');
      expect(await request(socket, 'trip:join', { tripId: 'm-add' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      const updated = waitFor(socket, 'notification');
      await publish('trip.member.added', { tripId: 'm-add', userId: 'newcomer' });
      // A marker through the same queue: the addition was handled before it.
      await publish('notification.created', { userId: 'newcomer', notification: { type: 'info', title: 'added', message: '' } });
      await updated;
      expect(await request(socket, 'trip:join', { tripId: 'm-add' })).toMatchObject({ ok: true, tripId: 'm-add' });
    });

    it('takes a removed member out at once, tells the others, and refuses the old token until re-added', async () => {
      const { socket: stays } = await connect('keeper', { trips: ['m-rm'] });
      const { socket: tab1 } = await connect('leaver', { trips: ['m-rm'] });
      const { socket: tab2 } = await connect('leaver', { trips: ['m-rm'] });
      for (const s of [stays, tab1, tab2]) await request(s, 'trip:join', { tripId: 'm-rm' });
      const userLeft = waitFor(stays, 'user:left');
      const left1 = waitFor(tab1, 'trip:left');
      const left2 = waitFor(tab2, 'trip:left');
      await publish('trip.member.removed', { tripId: 'm-rm', userId: 'leaver' });
      expect(await left1).toEqual({ tripId: 'm-rm', reason: 'removed' });
      expect(await left2).toEqual({ tripId: 'm-rm', reason: 'removed' });
      expect(await userLeft).toEqual({ tripId: 'm-rm', userId: 'leaver' });

      // The token still lists the trip, but it was issued before the removal.
      expect(await request(tab1, 'trip:join', { tripId: 'm-rm' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await request(tab1, 'trip:update', { tripId: 'm-rm', changes: {} })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      const marker = waitFor(tab1, 'notification');
      await publish('trip.member.added', { tripId: 'm-rm', userId: 'leaver' });
      await publish('notification.created', { userId: 'leaver', notification: { type: 'info', title: 'back', message: '' } });
      await marker;
      expect(await request(tab1, 'trip:join', { tripId: 'm-rm' })).toMatchObject({ ok: true });
    });

    it('empties the room of a deleted trip, drops its history and refuses later joins', async () => {
      const { socket } = await connect('owner', { trips: ['m-del'] });
      const first = await request(socket, 'trip:join', { tripId: 'm-del' });
      await publish('trip.updated', { tripId: 'm-del', changes: { a: 1 } });
      await waitFor(socket, 'trip:updated');
      const left = waitFor(socket, 'trip:left');
      await publish('trip.deleted', { tripId: 'm-del' });
      expect(await left).toEqual({ tripId: 'm-del', reason: 'deleted' });
      expect(await request(socket, 'trip:join', { tripId: 'm-del', since: { seq: 1, epoch: first.ok ? first.epoch : '' } })).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
    });
  });

  describe('presence', () => {
    it('lists every user online in the trip once, and a disconnect counts as leaving', async () => {
      const { socket: a } = await connect('pia', { trips: ['p-1'], name: 'Pia' });
      const { socket: b1 } = await connect('rob', { trips: ['p-1'] });
      const { socket: b2 } = await connect('rob', { trips: ['p-1'] });
      await request(a, 'trip:join', { tripId: 'p-1' });
      await request(b1, 'trip:join', { tripId: 'p-1' });
      const ack = await request(b2, 'trip:join', { tripId: 'p-1' });
      expect(ack.ok && [...ack.presence].sort((x, y) => x.userId.localeCompare(y.userId))).toEqual([
        { userId: 'pia', name: 'Pia' },
        { userId: 'rob' },
      ]);
      const left = collect(a, 'user:left');
      b1.disconnect();
      await new Promise((r) => setTimeout(r, 150));
      expect(left).toHaveLength(0);
      b2.disconnect();
      await until(() => left.length === 1, 3000, 'user:left');
      expect(left[0]).toEqual({ tripId: 'p-1', userId: 'rob' });
    });
  });

  describe('recovery', () => {
    it('replays every missed event in order before newer ones, with no gap and no duplicate, while events keep arriving', async () => {
      const tripId = 'r-live';
      const { socket: steady } = await connect('steady', { trips: [tripId] });
      await request(steady, 'trip:join', { tripId });
      const all = collect(steady, 'trip:updated');
      const { socket: away } = await connect('away', { trips: [tripId] });
      const joined = await request(away, 'trip:join', { tripId });
      const seen = collect(away, 'trip:updated');

      const publishing = publishTripStream(t.amqp, t.config.AMQP_EXCHANGE, { trips: [tripId], count: 90, pauseMs: 3, idPrefix: uniqueName('r') });
      publishing.catch(() => undefined);
      await until(() => seen.length >= 10, 10_000, 'the first events');
      away.disconnect();
      const last = seen.at(-1)!;
      await until(() => all.length >= last.seq + 25, 10_000, 'events missed while away');

      // Back while events still flow: the missed ones must come first, then the live ones.
      const { socket: back } = await connect('away', { trips: [tripId] });
      const after = collect(back, 'trip:updated');
      const ack = await request(back, 'trip:join', { tripId, since: { seq: last.seq, epoch: last.epoch } });
      expect(ack).toMatchObject({ ok: true, recovered: true, epoch: joined.ok ? joined.epoch : '' });
      await publishing;
      await until(() => all.length === 90, 15_000, 'all 90 events');
      await until(() => seen.length + after.length >= 90, 15_000, 'the away client to catch up');
      const sequence = [...seen, ...after];
      expect(sequence.map((e) => e.seq)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
      expect(sequence.map(stepOf)).toEqual(all.map(stepOf));
    }, 40_000);

    it('answers recovered: false when the history no longer reaches back', async () => {
      const tripId = 'r-overflow';
      const { socket } = await connect('late', { trips: [tripId] });
      const ack = await request(socket, 'trip:join', { tripId });
      const epoch = ack.ok ? ack.epoch : '';
      socket.disconnect();
      await publishTripStream(t.amqp, t.config.AMQP_EXCHANGE, { trips: [tripId], count: HISTORY_SIZE + 5, idPrefix: uniqueName('o') });
      const { socket: back } = await connect('late', { trips: [tripId] });
      const replayed = collect(back, 'trip:updated');
      const again = await request(back, 'trip:join', { tripId, since: { seq: 0, epoch } });
      expect(again).toMatchObject({ ok: true, recovered: false, seq: HISTORY_SIZE + 5, epoch });
      expect(replayed).toHaveLength(0);
    });

    it('answers recovered: false for another epoch', async () => {
      const { socket } = await connect('stranger', { trips: ['r-epoch'] });
      expect(await request(socket, 'trip:join', { tripId: 'r-epoch', since: { seq: 3, epoch: 'gone' } })).toMatchObject({
        ok: true,
        recovered: false,
      });
    });

    it('sends missed notifications at connect with notificationsSince, then connected says notificationsRecovered', async () => {
      const { socket, connected } = await connect('notified');
      expect(connected).not.toHaveProperty('notificationsRecovered');
      const first = waitFor(socket, 'notification');
      await publish('notification.created', { userId: 'notified', notification: { type: 'info', title: 'n1', message: '' } });
      const n1 = await first;
      socket.disconnect();
      for (const title of ['n2', 'n3']) {
        await publish('notification.created', { userId: 'notified', notification: { type: 'info', title, message: '' } });
      }
      await new Promise((r) => setTimeout(r, 200));

      const order: string[] = [];
      const token = await signToken({ sub: 'notified' });
      const back = createClient(t.url, { auth: { token, notificationsSince: { seq: n1.seq, epoch: n1.epoch } } });
      sockets.push(back);
      back.on('notification', (n) => order.push(n.title));
      const connectedAgain = waitFor(back, 'connected');
      back.connect();
      expect(await connectedAgain).toMatchObject({ notificationsRecovered: true });
      expect(order).toEqual(['n2', 'n3']);
    });
  });
});
