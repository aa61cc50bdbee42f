import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

/**
 * The AMQP client parses `application/json` bodies before the bridge sees them (found by the
 * fuzzer, seed 1): what it hands over must still be judged as the bytes that were published.
 */
describe.skipIf(!amqpUrl)('application/json bodies, which the AMQP client parses first', () => {
  let t: TestBridge;
  let socket: TestSocket;
  let dlq: string;
  const tripId = 'trip-json';
  const valid = (id: string, changes: unknown = {}) => ({ specversion: '1.0', id, source: 'test-suite', type: 'trip.updated', data: { tripId, changes } });

  beforeAll(async () => {
    t = await startTestBridge();
    dlq = `${t.config.AMQP_QUEUE}.dead-letter`;
    ({ socket } = await connectClient(t.url, await signToken({ sub: 'json-watcher', trips: [tripId] })));
    await request(socket, 'trip:join', { tripId });
  });
  afterAll(async () => {
    socket?.disconnect();
    await t?.stop();
  });

  const publishJson = (text: string) =>
    t.amqp.publishRaw(t.config.AMQP_EXCHANGE, 'trip.updated', Buffer.from(text), { contentType: 'application/json' });

  it('dead-letters a JSON string that holds an event as invalid_envelope, as it would the same bytes as text', async () => {
    const received = collect(socket, 'trip:updated');
    await publishJson(JSON.stringify(JSON.stringify(valid('as-string'))));
    const [message] = await t.amqp.drain(dlq, 1, 10_000);
    expect(message?.headers?.['x-rejection-reason']).toBe('invalid_envelope');
    await publishJson(JSON.stringify(valid('after-string')));
    await new Promise((r) => setTimeout(r, 500));
    expect(received.map((e) => e.eventId)).toEqual(['after-string']);
  });

  it('dead-letters a body nested too deeply to re-serialize at once (too_large), whole, and lists it', async () => {
    const depth = 20_000;
    const text = JSON.stringify(valid('deep', { nest: 'NEST' })).replace('"NEST"', `${'['.repeat(depth)}${']'.repeat(depth)}`);
    await publishJson(text);
    await publishJson(JSON.stringify(valid('after-deep')));
    const [message] = await t.amqp.drain(dlq, 1, 10_000);
    expect(message?.headers?.['x-rejection-reason']).toBe('too_large');
    // Dead-lettered by the bridge on its first delivery, not by the broker after retries.
    expect(message?.headers?.['x-death']).toBeUndefined();
    expect(message?.contentType).toBe('application/json');
    // The copy is the same JSON: parsed again by the test's own AMQP client, it nests as deep.
    let node = (message?.body as { data: { changes: { nest: unknown } } }).data.changes.nest;
    let levels = 0;
    while (Array.isArray(node) && node.length > 0) [node, levels] = [node[0], levels + 1];
    expect(levels).toBe(depth - 1);

    // Put back for the listing: the admin sees it, with its reason, and the route does not fail.
    await publishJson(text);
    const admin = await signToken({ sub: 'json-admin', role: 'admin' });
    let listed: { status: number; body: { data?: { messages: Array<{ reason: string; size: number }> } } } | undefined;
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${t.url}/api/v1/socket/dead-letters`, { headers: { authorization: `Bearer ${admin}` } });
      listed = { status: res.status, body: (await res.json()) as never };
      if (listed.status !== 200 || (listed.body.data?.messages.length ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed?.status).toBe(200);
    expect(listed?.body.data?.messages).toEqual([expect.objectContaining({ reason: 'too_large', size: text.length })]);
  });
});
