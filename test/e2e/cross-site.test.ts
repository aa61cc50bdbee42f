import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestAmqp } from '../helpers/amqp.js';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

const TRIP = 'trip-xsite';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function untilCount(amqp: TestAmqp, queue: string, count: number): Promise<void> {
  for (let i = 0; i < 100 && (await amqp.messageCount(queue)) !== count; i++) await sleep(50);
}

describe.skipIf(!amqpUrl)('cross-site requests against a running bridge', () => {
  let t: TestBridge;
  let socket: TestSocket;
  let admin: string;
  let dlq: string;
  const replayUrl = () => `${t.url}/api/v1/socket/dead-letters/replay`;

  beforeAll(async () => {
    t = await startTestBridge();
    dlq = `${t.config.AMQP_QUEUE}.dead-letter`;
    admin = await signToken({ sub: 'ops', role: 'admin' });
    ({ socket } = await connectClient(t.url, await signToken({ sub: 'member', trips: [TRIP] })));
    await request(socket, 'trip:join', { tripId: TRIP });
    // One parked event that a replay would deliver to the trip.
    const event = { specversion: '1.0', id: 'evt-xsite', source: 'trip-service', type: 'trip.updated', data: { tripId: TRIP, changes: { replayed: true } } };
    await t.amqp.publishRaw('', dlq, event, { headers: { 'x-rejection-reason': 'handler_failed', 'x-original-routing-key': 'trip.updated' } });
    await untilCount(t.amqp, dlq, 1);
  }, 20_000);
  afterAll(async () => {
    socket?.disconnect();
    await t?.stop();
  });

  it("refuses a foreign page's form post with the admin's cookie (403 forbidden), and replays nothing", async () => {
    const updates = collect(socket, 'trip:updated');
    // What `<form method=post enctype=text/plain action=…/replay>` on evil.example sends from the admin's browser.
    const res = await fetch(replayUrl(), {
      method: 'POST',
      headers: {
        Origin: 'https://evil.example',
        'Sec-Fetch-Site': 'cross-site',
        'Content-Type': 'text/plain',
        Cookie: `access_token=${admin}`,
      },
      body: '{"limit":100}',
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ success: false, error: { code: 'forbidden', message: expect.any(String) } });
    await sleep(300);
    expect(await t.amqp.messageCount(dlq)).toBe(1);
    expect(updates).toEqual([]);
  });

  it('refuses the same text/plain body from an allowed page with 415, and still replays nothing', async () => {
    const res = await fetch(replayUrl(), {
      method: 'POST',
      headers: { Origin: t.config.FRONTEND_URLS[0]!, 'Content-Type': 'text/plain', Cookie: `access_token=${admin}` },
      body: '{"limit":100}',
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'unsupported_media_type' } });
    expect(await t.amqp.messageCount(dlq)).toBe(1);
  });

  it('lets the operator replay with a Bearer token and JSON, from anywhere', async () => {
    const received = waitFor(socket, 'trip:updated');
    const res = await fetch(replayUrl(), {
      method: 'POST',
      headers: { Origin: 'https://evil.example', Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: '{"limit":10}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: { replayed: 1, unroutable: 0, remaining: 0 } });
    expect(await received).toMatchObject({ eventId: 'evt-xsite' });
  });
});
