import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROUTE_LIMIT } from '../../src/http/test-routes.js';
import { DEFAULT_SOCKET_LIMITS, MAX_SOCKETS_PER_USER } from '../../src/realtime/socket-limits.js';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, connectError, createClient, request, until, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

type AnyAck = { ok: boolean; error?: { code: string; message: string } };
const ALLOWED_ORIGIN = 'http://localhost:5173';
const FOREIGN_ORIGIN = 'https://evil.example.com';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Emits `count` events at once, each with an ack, and resolves with the acks in order. */
function burst(socket: TestSocket, event: string, payload: unknown, count: number): Promise<AnyAck[]> {
  const raw = socket as unknown as { timeout(ms: number): { emitWithAck(e: string, p: unknown): Promise<AnyAck> } };
  return Promise.all(Array.from({ length: count }, () => raw.timeout(5000).emitWithAck(event, payload)));
}

const codes = (acks: AnyAck[]) => acks.map((a) => (a.ok ? 'ok' : a.error?.code));
const count = (acks: AnyAck[], code: string) => codes(acks).filter((c) => c === code).length;

describe.skipIf(!amqpUrl)('hostile clients', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];
  const track = (s: TestSocket) => (sockets.push(s), s);

  async function user(sub: string, claims: { trips?: string[] } = {}) {
    const { socket } = await connectClient(t.url, await signToken({ sub, ...claims }));
    return track(socket);
  }

  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  describe('event rate limits', () => {
    it('answers a burst from one socket past its budget with rate_limited, and the socket works after the window', async () => {
      const socket = await user('burst-user');
      const { points } = DEFAULT_SOCKET_LIMITS.eventsPerSocket;
      const acks = await burst(socket, 'ping', {}, points + 10);
      expect(count(acks, 'ok')).toBe(points);
      expect(count(acks, 'rate_limited')).toBe(10);
      expect(acks.find((a) => !a.ok)?.error?.message).toMatch(/events_per_socket .*retry in \d+ ms/);

      // Without a callback the refusal is a request:error.
      const error = waitFor(socket, 'request:error');
      socket.emit('ping', {});
      expect(await error).toEqual({ event: 'ping', code: 'rate_limited', message: expect.any(String) });

      expect(socket.connected).toBe(true);
      await sleep(1100);
      expect(await request(socket, 'ping', {})).toMatchObject({ ok: true });
    });

    it('shares a user’s budget across their sockets', async () => {
      const tabs = [await user('many-tabs'), await user('many-tabs'), await user('many-tabs')];
      const { points } = DEFAULT_SOCKET_LIMITS.eventsPerSocket;
      const acks = (await Promise.all(tabs.map((tab) => burst(tab, 'ping', null, points)))).flat();
      expect(count(acks, 'ok')).toBe(DEFAULT_SOCKET_LIMITS.eventsPerUser.points);
      expect(count(acks, 'rate_limited')).toBe(3 * points - DEFAULT_SOCKET_LIMITS.eventsPerUser.points);
      expect(acks.find((a) => !a.ok)?.error?.message).toMatch(/events_per_user/);
      // Another user is not affected.
      const other = await user('someone-else');
      expect(await request(other, 'ping', null)).toMatchObject({ ok: true });
    });

    it('limits trip:typing more strictly than other events', async () => {
      const socket = await user('fast-typist', { trips: ['t-typing'] });
      expect(await request(socket, 'trip:join', { tripId: 't-typing' })).toMatchObject({ ok: true });
      const typing = DEFAULT_SOCKET_LIMITS.typingPerSocket.points;
      const acks = await burst(socket, 'trip:typing', { tripId: 't-typing', typing: true }, typing + 3);
      expect(codes(acks)).toEqual([...Array(typing).fill('ok'), 'rate_limited', 'rate_limited', 'rate_limited']);
      expect(acks.at(-1)?.error?.message).toMatch(/typing_per_socket/);
      expect(await request(socket, 'ping', null)).toMatchObject({ ok: true });
    });

    it('counts unknown events against the budget too', async () => {
      const socket = await user('inventor');
      const { points } = DEFAULT_SOCKET_LIMITS.eventsPerSocket;
      const acks = await burst(socket, 'made:up', {}, points + 5);
      expect(count(acks, 'invalid_payload')).toBe(points);
      expect(count(acks, 'rate_limited')).toBe(5);
    });
  });

  describe('sockets per user', () => {
    it(`refuses socket ${MAX_SOCKETS_PER_USER + 1} of one user with connect_error rate_limited, and admits one again after a disconnect`, async () => {
      const token = await signToken({ sub: 'hoarder' });
      const open = await Promise.all(
        Array.from({ length: MAX_SOCKETS_PER_USER }, async () => (await connectClient(t.url, token)).socket),
      );
      open.forEach(track);
      const extra = track(createClient(t.url, { auth: { token } }));
      const err = await connectError(extra);
      expect(err.message).toBe('rate_limited');
      expect(err.data).toEqual({ code: 'rate_limited', message: expect.stringContaining(String(MAX_SOCKETS_PER_USER)) });

      // Other users are not affected.
      await user('not-a-hoarder');

      open[0]!.disconnect();
      const mine = () => [...t.bridge.io.of('/').sockets.values()].filter((s) => s.data.user.id === 'hoarder').length;
      await until(() => mine() === MAX_SOCKETS_PER_USER - 1, 3000, 'the server to see the disconnect');
      const again = await connectClient(t.url, token);
      track(again.socket);
      expect(again.connected.userId).toBe('hoarder');
    });
  });

  describe('HTTP test routes', () => {
    it('answer 429 rate_limited with Retry-After past a user’s budget, and accept again after it', async () => {
      const token = await signToken({ sub: 'http-spammer' });
      const post = () =>
        fetch(`${t.url}/api/v1/socket/test-notification`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify({ title: 'spam', message: '' }),
        });
      const responses = await Promise.all(Array.from({ length: TEST_ROUTE_LIMIT.points + 2 }, post));
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 202)).toHaveLength(TEST_ROUTE_LIMIT.points);
      const limited = responses.find((r) => r.status === 429)!;
      expect(await limited.json()).toEqual({ success: false, error: { code: 'rate_limited', message: expect.any(String) } });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(TEST_ROUTE_LIMIT.durationSeconds);
      await sleep(retryAfter * 1000 + 50);
      expect((await post()).status).toBe(202);
    });
  });

  describe('origins', () => {
    const handshake = (origin: string, method = 'GET') =>
      fetch(`${t.url}/socket.io/?EIO=4&transport=polling`, {
        method,
        headers: {
          Origin: origin,
          ...(method === 'OPTIONS' ? { 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'content-type' } : {}),
        },
      });

    it('answers a polling handshake from an allowed origin with its CORS headers', async () => {
      const res = await handshake(ALLOWED_ORIGIN);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(await res.text()).toMatch(/"sid"/);
      const preflight = await handshake(ALLOWED_ORIGIN, 'OPTIONS');
      expect(preflight.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    });

    it('refuses a polling handshake from another origin: 403 without CORS headers, and a preflight without them', async () => {
      const res = await handshake(FOREIGN_ORIGIN);
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(await res.text()).not.toMatch(/"sid"/);
      const preflight = await handshake(FOREIGN_ORIGIN, 'OPTIONS');
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('refuses a WebSocket handshake from another origin (CORS does not cover WebSocket) and accepts an allowed one', async () => {
      const token = await signToken({ sub: 'browser-user' });
      const foreign = track(createClient(t.url, { auth: { token }, extraHeaders: { Origin: FOREIGN_ORIGIN } }));
      const err = await connectError(foreign);
      expect(err.message).toMatch(/websocket error/i);
      const allowed = track(createClient(t.url, { auth: { token }, extraHeaders: { Origin: ALLOWED_ORIGIN } }));
      const connected = waitFor(allowed, 'connected');
      allowed.connect();
      expect((await connected).userId).toBe('browser-user');
    });

    it('answers HTTP API calls with CORS headers for allowed origins only', async () => {
      const allowed = await fetch(`${t.url}/api/v1/socket/health`, { headers: { Origin: ALLOWED_ORIGIN } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      const foreign = await fetch(`${t.url}/api/v1/socket/health`, { headers: { Origin: FOREIGN_ORIGIN } });
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});

describe.skipIf(!amqpUrl)('a reconnect flood from one address', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  it('is refused with connect_error rate_limited past the address budget, before any token work', async () => {
    const { points } = DEFAULT_SOCKET_LIMITS.handshakesPerAddress;
    const attempts = Array.from({ length: points + 20 }, () => {
      const socket = createClient(t.url, { auth: { token: 'not-a-jwt' } });
      sockets.push(socket);
      return connectError(socket, 10_000);
    });
    const errors = await Promise.all(attempts);
    const byCode = (code: string) => errors.filter((e) => e.data?.code === code).length;
    expect(byCode('token_invalid')).toBe(points);
    expect(byCode('rate_limited')).toBe(20);
    expect(errors.find((e) => e.data?.code === 'rate_limited')?.message).toBe('rate_limited');

    // Even a valid token waits for the window to end.
    const valid = createClient(t.url, { auth: { token: await signToken({ sub: 'late' }) } });
    sockets.push(valid);
    expect((await connectError(valid)).data?.code).toBe('rate_limited');

    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(/bridge_rate_limited_total\{limiter="handshakes_per_address"\} 21/);
    expect(text).toMatch(/bridge_handshake_refusals_total\{code="rate_limited"\} 21/);
  });
});
