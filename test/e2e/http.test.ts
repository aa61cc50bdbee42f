import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('the HTTP API on a running bridge', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];
  let userToken: string;
  let adminToken: string;

  const api = (path: string, token?: string, body?: unknown) =>
    fetch(`${t.url}/api/v1/socket${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await startTestBridge();
    userToken = await signToken({ sub: 'http-user', trips: ['trip-h'] });
    adminToken = await signToken({ sub: 'http-admin', role: 'admin' });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  it('answers health with the broker connected', async () => {
    const res = await api('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      data: { status: 'ok', broker: 'connected', connections: expect.any(Number), uptimeSeconds: expect.any(Number) },
    });
  });

  it('POST /test-trip-update goes through RabbitMQ to the trip room', async () => {
    const { socket } = await connectClient(t.url, userToken);
    sockets.push(socket);
    await request(socket, 'trip:join', { tripId: 'trip-h' });
    const received = waitFor(socket, 'trip:updated');
    const res = await api('/test-trip-update', userToken, { tripId: 'trip-h', changes: { dates: '2027-01' } });
    expect(res.status).toBe(202);
    const { data } = (await res.json()) as { data: { eventId: string } };
    expect(await received).toMatchObject({
      eventId: data.eventId,
      type: 'trip.updated',
      source: 'realtime-bridge',
      data: { tripId: 'trip-h', changes: { dates: '2027-01' }, updatedBy: 'http-user' },
    });
  });

  it('POST /test-trip-update refuses a trip the caller may not join', async () => {
    const res = await api('/test-trip-update', userToken, { tripId: 'trip-other', changes: {} });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'forbidden' } });
  });

  it('POST /test-notification reaches the caller, and an admin may target another user', async () => {
    const { socket } = await connectClient(t.url, userToken);
    sockets.push(socket);
    const first = waitFor(socket, 'notification');
    const res = await api('/test-notification', userToken, { title: 'Hello', message: 'from HTTP' });
    expect(res.status).toBe(202);
    expect(await first).toMatchObject({ type: 'info', title: 'Hello', message: 'from HTTP', seq: 1 });

    const second = waitFor(socket, 'notification');
    const byAdmin = await api('/test-notification', adminToken, { userId: 'http-user', type: 'success', title: 'Hi', message: '' });
    expect(byAdmin.status).toBe(202);
    expect(await second).toMatchObject({ type: 'success', title: 'Hi', seq: 2 });

    const byUser = await api('/test-notification', userToken, { userId: 'someone-else', title: 'x', message: '' });
    expect(byUser.status).toBe(403);
  });

  it('POST /broadcast is for admins and reaches every socket', async () => {
    const { socket } = await connectClient(t.url, await signToken({ sub: 'listener' }));
    sockets.push(socket);
    expect((await api('/broadcast', userToken, { title: 'x', message: '' })).status).toBe(403);
    const received = waitFor(socket, 'notification');
    expect((await api('/broadcast', adminToken, { type: 'warning', title: 'Heads up', message: 'all' })).status).toBe(202);
    expect(await received).toMatchObject({ type: 'warning', title: 'Heads up' });
  });

  it('answers a bad body with 400 invalid_payload and publishes nothing', async () => {
    type Stats = { data: { broker: { consumed: number } } };
    const before = (await (await api('/stats', adminToken)).json()) as Stats;
    for (const body of ['{"tripId":', { tripId: 'trip-h' }, { tripId: 'trip-h', changes: 'no' }]) {
      const res = await api('/test-trip-update', userToken, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ success: false, error: { code: 'invalid_payload' } });
    }
    await new Promise((r) => setTimeout(r, 200));
    const after = (await (await api('/stats', adminToken)).json()) as Stats;
    expect(after.data.broker.consumed).toBe(before.data.broker.consumed);
  });

  it('lists rooms for admins and the caller’s own connections for users', async () => {
    const rooms = await api('/rooms', adminToken);
    expect(rooms.status).toBe(200);
    const { data } = (await rooms.json()) as { data: Array<{ name: string; members: number }> };
    expect(data).toContainEqual({ name: 'trip:trip-h', members: 1 });
    expect(data).toContainEqual({ name: 'user:http-user', members: 2 });
    expect((await api('/rooms', userToken)).status).toBe(403);

    const mine = await api('/my-connections', userToken);
    const connections = (await mine.json()) as { data: Array<{ socketId: string; transport: string; rooms: string[] }> };
    expect(connections.data).toHaveLength(2);
    expect(connections.data.map((c) => c.socketId).sort()).toEqual(sockets.slice(0, 2).map((s) => s.id).sort());
    expect(connections.data[0]).toMatchObject({ transport: 'websocket', connectedAt: expect.any(String) });
    expect(connections.data.flatMap((c) => c.rooms)).toContain('trip:trip-h');
  });

  it('answers 401 without a token and 404 for an unknown route', async () => {
    expect((await api('/my-connections')).status).toBe(401);
    const missing = await api('/nope', userToken);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ success: false, error: { code: 'not_found' } });
  });
});
