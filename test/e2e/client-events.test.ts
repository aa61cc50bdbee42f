import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { uniqueName } from '../helpers/amqp.js';
import { collect, connectClient, request, until, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('client events', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];

  async function user(sub: string, claims: { trips?: string[]; role?: 'admin' | 'user'; name?: string } = {}) {
    const { socket } = await connectClient(t.url, await signToken({ sub, ...claims }));
    sockets.push(socket);
    return socket;
  }

  /**
   * Publishes an event of the trip, then a notification to the user as a marker: whatever of the
   * trip the socket would get has arrived by the time the marker does.
   */
  async function tripEventsSeenBy(socket: TestSocket, userId: string, tripId: string) {
    const received = collect(socket, 'trip:updated');
    const marker = waitFor(socket, 'notification');
    await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: {} });
    await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'notification.created', {
      userId,
      notification: { type: 'info', title: 'marker', message: '' },
    });
    await marker;
    return received;
  }

  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  describe('trip:join', () => {
    it('admits a trip the token lists, answering seq, epoch, recovered and presence', async () => {
      const socket = await user('ana', { trips: ['t-join'], name: 'Ana' });
      const joined = waitFor(socket, 'trip:joined');
      const ack = await request(socket, 'trip:join', { tripId: 't-join' });
      expect(ack).toEqual({
        ok: true,
        tripId: 't-join',
        seq: 0,
        epoch: expect.any(String),
        recovered: false,
        presence: [{ userId: 'ana', name: 'Ana' }],
      });
      expect(await joined).toEqual({ tripId: 't-join', seq: 0 });
    });

    it('refuses a trip the token does not list with forbidden, and the socket gets nothing of it', async () => {
      const socket = await user('ben', { trips: ['other'] });
      expect(await request(socket, 'trip:join', { tripId: 't-private' })).toEqual({
        ok: false,
        error: { code: 'forbidden', message: expect.any(String) },
      });
      expect(await tripEventsSeenBy(socket, 'ben', 't-private')).toHaveLength(0);
    });

    it('lets an admin join any trip', async () => {
      const socket = await user('boss', { role: 'admin' });
      expect(await request(socket, 'trip:join', { tripId: 'anything' })).toMatchObject({ ok: true });
    });

    it.each([
      ['no payload', undefined],
      ['a string', 'trip-1'],
      ['a bad tripId', { tripId: 'has spaces' }],
      ['a bad since', { tripId: 't', since: { seq: -1, epoch: 'e' } }],
    ])('answers invalid_payload to %s', async (_what, payload) => {
      const socket = await user('carl', { trips: ['t'] });
      const ack = await request(socket, 'trip:join', payload);
      expect(ack).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    });

    it('sends request:error when the client gave no callback', async () => {
      const socket = await user('dina');
      const error = waitFor(socket, 'request:error');
      socket.emit('trip:join', { tripId: 'not-hers' });
      expect(await error).toEqual({ event: 'trip:join', code: 'forbidden', message: expect.any(String) });
    });
  });

  describe('presence', () => {
    it('announces a user on their first socket in and last socket out, not per tab', async () => {
      const watcher = await user('wendy', { trips: ['t-pres'] });
      await request(watcher, 'trip:join', { tripId: 't-pres' });
      const joinedEvents = collect(watcher, 'user:joined');
      const leftEvents = collect(watcher, 'user:left');

      const tab1 = await user('xavi', { trips: ['t-pres'], name: 'Xavi' });
      const tab2 = await user('xavi', { trips: ['t-pres'], name: 'Xavi' });
      await request(tab1, 'trip:join', { tripId: 't-pres' });
      const second = await request(tab2, 'trip:join', { tripId: 't-pres' });
      expect(second).toMatchObject({ ok: true });
      if (second.ok) {
        expect(second.presence.map((p) => p.userId).sort()).toEqual(['wendy', 'xavi']);
      }
      await until(() => joinedEvents.length === 1, 3000, 'user:joined');
      expect(joinedEvents[0]).toEqual({ tripId: 't-pres', userId: 'xavi', name: 'Xavi' });

      expect(await request(tab1, 'trip:leave', { tripId: 't-pres' })).toEqual({ ok: true, tripId: 't-pres' });
      await new Promise((r) => setTimeout(r, 100));
      expect(leftEvents).toHaveLength(0);
      tab2.disconnect();
      await until(() => leftEvents.length === 1, 3000, 'user:left');
      expect(leftEvents[0]).toEqual({ tripId: 't-pres', userId: 'xavi' });
      expect(joinedEvents).toHaveLength(1);
    });
  });

  describe('trip:leave', () => {
    it('answers trip:left and stops the trip events', async () => {
      const socket = await user('eva', { trips: ['t-leave'] });
      await request(socket, 'trip:join', { tripId: 't-leave' });
      const left = waitFor(socket, 'trip:left');
      expect(await request(socket, 'trip:leave', { tripId: 't-leave' })).toEqual({ ok: true, tripId: 't-leave' });
      expect(await left).toEqual({ tripId: 't-leave', reason: 'left' });
      expect(await tripEventsSeenBy(socket, 'eva', 't-leave')).toHaveLength(0);
    });

    it('answers not_joined for a trip the socket is not in', async () => {
      const socket = await user('finn', { trips: ['t-leave'] });
      expect(await request(socket, 'trip:leave', { tripId: 't-leave' })).toMatchObject({
        ok: false,
        error: { code: 'not_joined' },
      });
    });
  });

  describe('trip:update', () => {
    it('publishes client.trip.update upstream and acks with the event id after the broker confirmed', async () => {
      const queue = uniqueName('upstream');
      await t.amqp.connection.queueDeclare({ queue, exclusive: true });
      await t.amqp.connection.queueBind({ queue, exchange: t.config.AMQP_EXCHANGE, routingKey: 'client.trip.update' });
      const socket = await user('gus', { trips: ['t-up'] });
      await request(socket, 'trip:join', { tripId: 't-up' });
      const echoed = collect(socket, 'trip:updated');

      const ack = await request(socket, 'trip:update', { tripId: 't-up', changes: { budget: 1200 } });
      expect(ack).toEqual({ ok: true, eventId: expect.any(String) });
      const [message] = await t.amqp.drain(queue, 1);
      const event = JSON.parse(String(message?.body));
      expect(event).toMatchObject({
        specversion: '1.0',
        type: 'client.trip.update',
        source: 'realtime-bridge',
        id: ack.ok ? ack.eventId : '',
        data: { tripId: 't-up', changes: { budget: 1200 }, userId: 'gus' },
      });
      expect(message?.durable).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      // The bridge never consumes its own upstream events.
      expect(echoed).toHaveLength(0);
      await t.amqp.cleanup([queue]);
    });

    it('refuses a socket that has not joined the trip with not_joined', async () => {
      const socket = await user('hana', { trips: ['t-up'] });
      expect(await request(socket, 'trip:update', { tripId: 't-up', changes: {} })).toMatchObject({
        ok: false,
        error: { code: 'not_joined' },
      });
    });

    it('refuses changes that are not an object with invalid_payload', async () => {
      const socket = await user('igor', { trips: ['t-up'] });
      await request(socket, 'trip:join', { tripId: 't-up' });
      expect(await request(socket, 'trip:update', { tripId: 't-up', changes: [1, 2] })).toMatchObject({
        ok: false,
        error: { code: 'invalid_payload' },
      });
    });
  });

  describe('trip:typing', () => {
    it('relays typing to the others in the room, not to the sender', async () => {
      const a = await user('jo', { trips: ['t-typ'] });
      const b = await user('kim', { trips: ['t-typ'] });
      await request(a, 'trip:join', { tripId: 't-typ' });
      await request(b, 'trip:join', { tripId: 't-typ' });
      const own = collect(a, 'trip:typing');
      const relayed = waitFor(b, 'trip:typing');
      expect(await request(a, 'trip:typing', { tripId: 't-typ', typing: true })).toEqual({ ok: true, tripId: 't-typ' });
      expect(await relayed).toEqual({ tripId: 't-typ', userId: 'jo', typing: true });
      expect(own).toHaveLength(0);
    });
  });

  describe('auth:refresh', () => {
    it('replaces the token of the same user and answers its expiry', async () => {
      const socket = await user('lea');
      const fresh = await signToken({ sub: 'lea' }, { expiresIn: 7200 });
      const ack = await request(socket, 'auth:refresh', { token: fresh });
      expect(ack).toMatchObject({ ok: true });
      if (ack.ok) expect(Math.abs(Date.parse(ack.expiresAt) - (Date.now() + 7_200_000))).toBeLessThan(5000);
    });

    it('takes the socket out of the trips the new token no longer grants', async () => {
      const tripId = uniqueName('refresh').replace(/[^A-Za-z0-9_.:@-]/g, '');
      const socket = await user('ria', { trips: [tripId, 'kept-trip'] });
      expect(await request(socket, 'trip:join', { tripId })).toMatchObject({ ok: true });
      expect(await request(socket, 'trip:join', { tripId: 'kept-trip' })).toMatchObject({ ok: true });
      const left = waitFor(socket, 'trip:left');
      const narrower = await signToken({ sub: 'ria', trips: ['kept-trip'] });
      expect(await request(socket, 'auth:refresh', { token: narrower })).toMatchObject({ ok: true });
      expect(await left).toEqual({ tripId, reason: 'removed' });
      expect(await tripEventsSeenBy(socket, 'ria', tripId)).toEqual([]);
      expect(await request(socket, 'trip:typing', { tripId, typing: true })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    });

    it('refuses a token of another user with forbidden and a bad token with unauthorized', async () => {
      const socket = await user('max');
      const other = await signToken({ sub: 'not-max' });
      expect(await request(socket, 'auth:refresh', { token: other })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await request(socket, 'auth:refresh', { token: 'garbage' })).toMatchObject({
        ok: false,
        error: { code: 'unauthorized' },
      });
    });
  });

  describe('ping and unknown events', () => {
    it('answers ping with pong and an ack carrying the server time', async () => {
      const socket = await user('ned');
      const pong = waitFor(socket, 'pong');
      const ack = await request(socket, 'ping', { anything: [1, 2, 3] });
      expect(ack).toEqual({ ok: true, serverTime: expect.any(String) });
      expect(Date.parse((await pong).serverTime)).not.toBeNaN();
    });

    it('answers an unknown event with invalid_payload and keeps the socket', async () => {
      const socket = await user('ola');
      const error = waitFor(socket, 'request:error');
      (socket as unknown as { emit: (e: string, p: unknown) => void }).emit('trip:hack', { tripId: 'x' });
      expect(await error).toMatchObject({ event: 'trip:hack', code: 'invalid_payload' });
      expect((await request(socket, 'ping', null)).ok).toBe(true);
    });
  });
});
