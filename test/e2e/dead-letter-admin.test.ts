import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeTopology } from '../../src/broker/topology.js';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

/** An operator's call to the bridge's HTTP API: a GET, or a POST when there is a body. */
function callApi(url: string, path: string, token: string, body?: unknown) {
  return fetch(`${url}/api/v1/socket${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function untilCount(amqp: TestAmqp, queue: string, count: number): Promise<void> {
  for (let i = 0; i < 100 && (await amqp.messageCount(queue)) !== count; i++) await new Promise((r) => setTimeout(r, 50));
}

describe.skipIf(!amqpUrl)('the dead-letter routes for operators', () => {
  let t: TestBridge;
  let socket: TestSocket;
  let admin: string;
  let dlq: string;
  const api = (path: string, token: string, body?: unknown) => callApi(t.url, path, token, body);

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
    await untilCount(t.amqp, dlq, 1);
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
    expect(await res.json()).toEqual({ success: true, data: { replayed: 1, unroutable: 0, remaining: 0 } });
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

describe.skipIf(!amqpUrl)('replaying what the broker dead-lettered, and what cannot be routed', () => {
  // Named in advance: the queue is declared (as the bridge declares it) before the bridge starts.
  const queue = uniqueName('dla-broker');
  const exchange = `${queue}.events`;
  const topology = bridgeTopology(exchange, queue);
  const dlq = topology.deadLetterQueue.queue;
  let amqp: TestAmqp;
  let t: TestBridge | undefined;
  let socket: TestSocket | undefined;
  let admin: string;
  const api = (path: string, token: string, body?: unknown) => callApi(t!.url, path, token, body);

  beforeAll(async () => {
    amqp = new TestAmqp(amqpUrl!);
    await amqp.connection.onConnect();
    await amqp.connection.exchangeDeclare(topology.exchange);
    await amqp.connection.queueDeclare(topology.deadLetterQueue);
    await amqp.connection.queueDeclare(topology.queue);
    for (const binding of topology.bindings) await amqp.connection.queueBind(binding);

    // A valid event that a consumer rejects without requeue: RabbitMQ dead-letters it itself, with
    // `x-death` and the dead-letter queue's name as its routing key (no x-original-routing-key).
    await amqp.publishEvent(exchange, 'trip.updated', { tripId: 'trip-dlb', changes: { revived: true } }, { id: 'evt-broker-dead' });
    const ch = await amqp.connection.acquire();
    try {
      const rejected = new Promise<void>((resolve) => {
        void ch.basicConsume({ queue }, (msg) => {
          ch.basicNack({ deliveryTag: msg.deliveryTag, requeue: false });
          resolve();
        });
      });
      await Promise.race([rejected, new Promise((r) => setTimeout(r, 5000))]);
    } finally {
      await ch.close();
    }
    await untilCount(amqp, dlq, 1);

    t = await startTestBridge({ AMQP_QUEUE: queue, AMQP_EXCHANGE: exchange });
    admin = await signToken({ sub: 'ops', role: 'admin' });
    ({ socket } = await connectClient(t.url, await signToken({ sub: 'member', trips: ['trip-dlb'] })));
    await request(socket, 'trip:join', { tripId: 'trip-dlb' });
  });
  afterAll(async () => {
    socket?.disconnect();
    await t?.stop();
    // In case the bridge never started: everything this suite declared.
    await amqp?.cleanup([queue, dlq], [exchange]);
    await amqp?.close();
  });

  it('lists a message the broker dead-lettered under the routing key and exchange it was published with', async () => {
    expect(await amqp.messageCount(dlq)).toBe(1);
    const res = await api('/dead-letters?limit=10', admin);
    const { data } = (await res.json()) as { data: { total: number; messages: Array<Record<string, unknown>> } };
    expect(data.total).toBe(1);
    expect(data.messages[0]).toMatchObject({ routingKey: 'trip.updated', exchange });
  });

  it('replays a message the broker dead-lettered to its x-death routing key, so that it reaches the trip', async () => {
    const received = waitFor(socket!, 'trip:updated');
    const res = await api('/dead-letters/replay', admin, { limit: 10 });
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(await received).toMatchObject({ eventId: 'evt-broker-dead', data: { changes: { revived: true } } });
    expect(await amqp.messageCount(dlq)).toBe(0);
    expect(answer).toEqual({ success: true, data: { replayed: 1, unroutable: 0, remaining: 0 } });
  });

  it('leaves a dead letter that nothing would route in the queue, reports it unroutable, and replays the others', async () => {
    const parked = (id: string) => ({ specversion: '1.0', id, source: 'trip-service', type: 'trip.updated', data: { tripId: 'trip-dlb', changes: { id } } });
    await amqp.publishRaw('', dlq, parked('evt-nowhere'), { headers: { 'x-rejection-reason': 'handler_failed', 'x-original-routing-key': 'nothing.binds.this' } });
    await amqp.publishRaw('', dlq, parked('evt-routable'), { headers: { 'x-rejection-reason': 'handler_failed', 'x-original-routing-key': 'trip.updated' } });
    await untilCount(amqp, dlq, 2);
    const received = waitFor(socket!, 'trip:updated');
    const res = await api('/dead-letters/replay', admin, { limit: 10 });
    expect(res.status).toBe(200);
    const answer = await res.json();
    // The one the broker returned is still there, whole; the other one was delivered.
    expect(await amqp.peek(dlq)).toEqual([parked('evt-nowhere')]);
    expect(await received).toMatchObject({ eventId: 'evt-routable' });
    expect(answer).toEqual({ success: true, data: { replayed: 1, unroutable: 1, remaining: 1 } });
    // Replaying it again does not destroy it either.
    const again = await api('/dead-letters/replay', admin, { limit: 10 });
    expect(await again.json()).toEqual({ success: true, data: { replayed: 0, unroutable: 1, remaining: 1 } });
    expect(await amqp.messageCount(dlq)).toBe(1);
  });
});
