import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('events from RabbitMQ to rooms', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];

  async function user(sub: string, trips: string[] = [], join: string[] = trips) {
    const { socket } = await connectClient(t.url, await signToken({ sub, trips }));
    sockets.push(socket);
    for (const tripId of join) expect(await request(socket, 'trip:join', { tripId })).toMatchObject({ ok: true });
    return socket;
  }
  const publish = (type: string, data: unknown, overrides: Record<string, unknown> = {}) =>
    t.amqp.publishEvent(t.config.AMQP_EXCHANGE, type, data, overrides);

  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  it('delivers a trip event to every member in the room and to nobody else', async () => {
    const alice = await user('alice', ['trip-a']);
    const bob = await user('bob', ['trip-a']);
    const outsider = await user('carol', ['trip-b']);
    const notJoined = await user('dave', ['trip-a'], []);
    const toAlice = collect(alice, 'trip:updated');
    const toBob = collect(bob, 'trip:updated');
    const toCarol = collect(outsider, 'trip:updated');
    const toDave = collect(notJoined, 'trip:updated');

    const eventId = await publish('trip.updated', { tripId: 'trip-a', changes: { name: 'Alps' }, updatedBy: 'alice' });
    await until(() => toAlice.length === 1 && toBob.length === 1, 5000, 'both members');
    expect(toAlice[0]).toMatchObject({
      eventId,
      type: 'trip.updated',
      tripId: 'trip-a',
      seq: 1,
      epoch: expect.any(String),
      source: 'test-suite',
      data: { tripId: 'trip-a', changes: { name: 'Alps' }, updatedBy: 'alice' },
    });
    expect(toBob[0]).toEqual(toAlice[0]);

    // A later event for trip-b proves that the earlier one had its chance to arrive everywhere.
    await publish('trip.activity', { tripId: 'trip-b', kind: 'vote', payload: { option: 2 } });
    await until(() => toCarol.length === 1, 5000, 'carol');
    expect(toCarol[0]).toMatchObject({ tripId: 'trip-b', type: 'trip.activity', seq: 1 });
    expect(toDave).toHaveLength(0);
    expect(toAlice).toHaveLength(1);
  });

  it('keeps publish order with consecutive seq per trip', async () => {
    const socket = await user('erin', ['trip-order']);
    const received = collect(socket, 'trip:updated');
    for (let i = 1; i <= 50; i++) await publish('trip.updated', { tripId: 'trip-order', changes: { step: i } });
    await until(() => received.length === 50, 10_000, '50 events');
    expect(received.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(received.map((e) => (e.data as unknown as { changes: { step: number } }).changes.step)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(new Set(received.map((e) => e.epoch)).size).toBe(1);
  });

  it('delivers an event id once, however often it is published', async () => {
    const socket = await user('frank', ['trip-dup']);
    const received = collect(socket, 'trip:updated');
    const id = 'evt-duplicate-1';
    await publish('trip.updated', { tripId: 'trip-dup', changes: { a: 1 } }, { id });
    await publish('trip.updated', { tripId: 'trip-dup', changes: { a: 1 } }, { id });
    await publish('trip.updated', { tripId: 'trip-dup', changes: { b: 2 } });
    await until(() => received.length >= 2, 5000, 'events');
    await new Promise((r) => setTimeout(r, 200));
    expect(received.map((e) => e.eventId).filter((e) => e === id)).toHaveLength(1);
    expect(received.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('sends a notification to every socket of the named users, with a seq per user', async () => {
    const tab1 = await user('gina');
    const tab2 = await user('gina');
    const henry = await user('henry');
    const ivan = await user('ivan');
    const g1 = collect(tab1, 'notification');
    const g2 = collect(tab2, 'notification');
    const h = collect(henry, 'notification');
    const i = collect(ivan, 'notification');
    const notification = { type: 'info', title: 'Vote closes soon', message: 'Pick a date' };
    const eventId = await publish('notification.created', { userId: 'gina', userIds: ['gina', 'henry'], notification });
    await until(() => g1.length === 1 && g2.length === 1 && h.length === 1, 5000, 'notifications');
    expect(g1[0]).toMatchObject({ ...notification, eventId, seq: 1, epoch: expect.any(String), time: expect.any(String) });
    expect(g2[0]).toEqual(g1[0]);
    expect(h[0]).toMatchObject({ eventId, seq: 1 });
    await publish('notification.created', { userId: 'henry', notification });
    await until(() => h.length === 2, 5000, 'second notification');
    expect(h[1]?.seq).toBe(2);
    expect(i).toHaveLength(0);
    expect(g1).toHaveLength(1);
  });

  it('broadcasts to every connected socket without a seq', async () => {
    const a = await user('jack');
    const b = await user('kate', ['trip-x']);
    const ra = collect(a, 'notification');
    const rb = collect(b, 'notification');
    await publish('notification.broadcast', { notification: { type: 'warning', title: 'Maintenance', message: 'At 2am' } });
    await until(() => ra.length === 1 && rb.length === 1, 5000, 'broadcast');
    expect(ra[0]).toMatchObject({ type: 'warning', title: 'Maintenance' });
    expect(ra[0]).not.toHaveProperty('seq');
  });

  it('stamps an event without time with the time it was handled', async () => {
    const socket = await user('liam', ['trip-time']);
    const received = waitFor(socket, 'trip:updated');
    const before = Date.now();
    await publish('trip.updated', { tripId: 'trip-time', changes: {} }, { time: undefined });
    const event = await received;
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('empties the room when the trip is deleted, after delivering the deletion', async () => {
    const a = await user('mia', ['trip-del']);
    const b = await user('noah', ['trip-del']);
    const order: string[] = [];
    a.on('trip:updated', (e) => order.push(`updated:${e.type}`));
    a.on('trip:left', (e) => order.push(`left:${e.reason}`));
    const left = waitFor(b, 'trip:left');
    await publish('trip.deleted', { tripId: 'trip-del', actorId: 'mia' });
    expect(await left).toEqual({ tripId: 'trip-del', reason: 'deleted' });
    await until(() => order.length === 2, 5000, 'mia');
    expect(order).toEqual(['updated:trip.deleted', 'left:deleted']);
    const after = collect(b, 'trip:updated');
    const marker = waitFor(b, 'notification');
    await publish('trip.updated', { tripId: 'trip-del', changes: { ghost: true } });
    await publish('notification.created', { userId: 'noah', notification: { type: 'info', title: 'x', message: '' } });
    await marker;
    expect(after).toHaveLength(0);
  });

  it('takes a removed member out of the room and leaves the others in', async () => {
    const stays = await user('olga', ['trip-rm']);
    const removed1 = await user('paul', ['trip-rm']);
    const removed2 = await user('paul', ['trip-rm']);
    const leftEvents = [stays, removed1, removed2].map((s) => collect(s, 'trip:left'));
    await publish('trip.member.removed', { tripId: 'trip-rm', userId: 'paul' });
    await until(() => leftEvents[1]!.length === 1 && leftEvents[2]!.length === 1, 5000, 'removal');
    expect(leftEvents[1]![0]).toEqual({ tripId: 'trip-rm', reason: 'removed' });
    const olga = collect(stays, 'trip:updated');
    const paul = collect(removed1, 'trip:updated');
    await publish('trip.updated', { tripId: 'trip-rm', changes: { after: true } });
    await until(() => olga.length === 1, 5000, 'olga');
    expect(paul).toHaveLength(0);
    expect(leftEvents[0]).toHaveLength(0);
  });

  it('is consuming once start() resolves: an event published at once is not lost to a missing binding', async () => {
    const fresh = await startTestBridge();
    try {
      await fresh.amqp.publishEvent(fresh.config.AMQP_EXCHANGE, 'trip.updated', { tripId: 'first', changes: {} });
      let consumed = 0;
      for (let i = 0; i < 100 && consumed === 0; i++) {
        consumed = (await fresh.bridge.metrics.brokerCounts()).consumed;
        if (consumed === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(consumed).toBe(1);
    } finally {
      await fresh.stop();
    }
  });

  it('reports what it consumed and delivered in /stats', async () => {
    const admin = await signToken({ sub: 'root', role: 'admin' });
    const res = await fetch(`${t.url}/api/v1/socket/stats`, { headers: { Authorization: `Bearer ${admin}` } });
    const body = (await res.json()) as { data: { broker: Record<string, unknown>; connections: number } };
    expect(res.status).toBe(200);
    expect(body.data.broker).toMatchObject({ connected: true, duplicates: 1 });
    expect(body.data.broker.delivered).toBeGreaterThanOrEqual(60);
    expect(body.data.connections).toBe(sockets.filter((s) => s.connected).length);
  });
});
