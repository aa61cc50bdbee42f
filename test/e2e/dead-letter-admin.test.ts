import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('the dead-letter routes for operators', () => {
  let t: TestBridge;
  let socket: TestSocket;
  let admin: string;
  let dlq: string;
  const api = (path: string, token: string, body?: unknown) =>
    fetch(`${t.url}/api/v1/socket${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await startTestBridge();
    dlq = `${t.config.AMQP_QUEUE}.dead-letter`;
    admin = await signToken({ sub: 'ops', role: 'admin' });
    ({ socket } = await connectClient(t.url, await signToken({ sub: 'member', trips: ['trip-dla'] })));
    await request(socket, 'trip:join', { tripId: 'trip-dla' });
  });
  afterAll(async () => {
    socket?.disconnect();
    await t?.stop();
  });

  it('lists dead letters with their reason and body, and leaves them in the queue', async () => {
    await t.amqp.publishRaw(t.config.AMQP_EXCHANGE, 'trip.updated', '{"broken":');
    for (let i = 0; i < 100 && (await t.amqp.messageCount(dlq)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const res = await api('/dead-letters?limit=10', admin);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { queue: string; total: number; messages: Array<Record<string, unknown>> } };
    expect(data).toMatchObject({ queue: dlq, total: 1 });
    expect(data.messages[0]).toMatchObject({
      reason: 'invalid_json',
      routingKey: 'trip.updated',
      exchange: t.config.AMQP_EXCHANGE,
      body: '{"broken":',
      bodyTruncated: false,
      size: 10,
    });
    expect(await t.amqp.messageCount(dlq)).toBe(1);
    await t.amqp.drain(dlq, 1);
  });

  it('replays dead letters to the exchange with their routing key, so that a fixed cause delivers them', async () => {
    // As if its handler had failed: a valid event, parked with the headers the bridge adds.
    const event = { specversion: '1.0', id: 'evt-parked', source: 'trip-service', type: 'trip.updated', data: { tripId: 'trip-dla', changes: { back: true } } };
    await t.amqp.publishRaw('', dlq, event, {
      headers: { 'x-rejection-reason': 'handler_failed', 'x-rejection-detail': 'redis down', 'x-original-routing-key': 'trip.updated' },
    });
    const received = waitFor(socket, 'trip:updated');
    const res = await api('/dead-letters/replay', admin, { limit: 10 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: { replayed: 1, remaining: 0 } });
    expect(await received).toMatchObject({ eventId: 'evt-parked', data: { changes: { back: true } } });
    expect(await t.amqp.messageCount(dlq)).toBe(0);
  });

  it('is for admins only and checks its input', async () => {
    const user = await signToken({ sub: 'member' });
    expect((await api('/dead-letters', user)).status).toBe(403);
    expect((await api('/dead-letters/replay', user, {})).status).toBe(403);
    expect((await api('/dead-letters?limit=0', admin)).status).toBe(400);
    const bad = await api('/dead-letters/replay', admin, { limit: 'all' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_payload' } });
  });
});
