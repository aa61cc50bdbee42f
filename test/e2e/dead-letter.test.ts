import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('messages the bridge cannot deliver', () => {
  let t: TestBridge;
  let socket: TestSocket;
  let dlq: string;
  const valid = (tripId: string) => ({
    specversion: '1.0',
    id: `ok-${Math.random()}`,
    source: 'test-suite',
    type: 'trip.updated',
    data: { tripId, changes: {} },
  });

  beforeAll(async () => {
    t = await startTestBridge();
    dlq = `${t.config.AMQP_QUEUE}.dead-letter`;
    ({ socket } = await connectClient(t.url, await signToken({ sub: 'watcher', trips: ['trip-dl'] })));
    await request(socket, 'trip:join', { tripId: 'trip-dl' });
  });
  afterAll(async () => {
    socket?.disconnect();
    await t?.stop();
  });

  const poison: Array<[string, string, Buffer | string | object, string?]> = [
    ['invalid_json', 'trip.updated', '{"specversion": "1.0", "id": '],
    ['invalid_envelope', 'trip.updated', { specversion: '0.3', id: 'x', source: 's', type: 'trip.updated', data: {} }],
    ['unknown_type', 'trip.renamed', { specversion: '1.0', id: 'u1', source: 's', type: 'trip.renamed', data: {} }],
    ['invalid_data', 'trip.updated', { specversion: '1.0', id: 'd1', source: 's', type: 'trip.updated', data: { tripId: 'bad id!' } }],
    ['too_large', 'trip.updated', Buffer.alloc(256 * 1024 + 1, 0x20)],
    ['invalid_json', 'notification.created', Buffer.from([0xff, 0xfe, 0x00])],
  ];

  it('moves each bad message to the dead-letter queue with its reason and original body, and keeps flowing', async () => {
    const received = collect(socket, 'trip:updated');
    for (const [, routingKey, body] of poison) {
      await t.amqp.publishRaw(t.config.AMQP_EXCHANGE, routingKey, body, { messageId: `m-${routingKey}` });
      await t.amqp.publishRaw(t.config.AMQP_EXCHANGE, 'trip.updated', valid('trip-dl'));
    }
    await until(() => received.length === poison.length, 10_000, 'valid events between poison ones');
    expect(received.map((e) => e.seq)).toEqual(poison.map((_, i) => i + 1));

    const dead = await t.amqp.drain(dlq, poison.length, 10_000);
    expect(dead.map((m) => m.headers?.['x-rejection-reason'])).toEqual(poison.map(([reason]) => reason));
    for (const [i, message] of dead.entries()) {
      const [, routingKey, body] = poison[i]!;
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      expect(Buffer.from(message.body as Buffer).equals(bytes)).toBe(true);
      expect(message.headers?.['x-original-routing-key']).toBe(routingKey);
      expect(String(message.headers?.['x-rejection-detail']).length).toBeGreaterThan(0);
    }
    expect(String(dead[3]?.headers?.['x-rejection-detail'])).toContain('data.tripId');
  });

  it('dead-letters an application/json body the AMQP client already parsed, as the same JSON', async () => {
    const body = { specversion: '1.0', id: 'j1', source: 's', type: 'notification.created', data: { notification: {} } };
    await t.amqp.publishRaw(t.config.AMQP_EXCHANGE, 'notification.created', body, { contentType: 'application/json' });
    const [message] = await t.amqp.drain(dlq, 1, 10_000);
    expect(message?.headers?.['x-rejection-reason']).toBe('invalid_data');
    expect(message?.contentType).toBe('application/json');
    // rabbitmq-client hands parsed JSON back for application/json, so compare values.
    expect(message?.body).toEqual(body);
  });

  it('acknowledges everything: nothing is left in the bridge queue', async () => {
    expect(await t.amqp.messageCount(t.config.AMQP_QUEUE)).toBe(0);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(/bridge_events_dead_lettered_total\{reason="invalid_json"\} 2/);
    expect(text).toMatch(/bridge_events_dead_lettered_total\{reason="too_large"\} 1/);
  });
});
