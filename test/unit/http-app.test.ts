import { describe, it, expect } from 'vitest';
import { lazyApiDocuments } from '../../src/api-docs/index.js';
import { createTokenVerifier } from '../../src/auth/verify-token.js';
import { loadConfig } from '../../src/config.js';
import { PublishUnavailableError } from '../../src/broker/publisher.js';
import { createHttpApp, MAX_HTTP_BODY_BYTES } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { MemoryMembershipStore } from '../../src/state/memory-stores.js';
import { Metrics } from '../../src/metrics.js';
import type { ConnectionInfo, RoomInfo, SocketDirectory } from '../../src/realtime/socket-directory.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';
import { fakeDeadLetters } from '../helpers/fake-dead-letters.js';

const ORIGIN = 'http://localhost:5173';
const BASE = '/api/v1/socket';

const ROOMS: RoomInfo[] = [
  { name: 'trip:t1', members: 3 },
  { name: 'user:u1', members: 2 },
  { name: 'user:u2', members: 1 },
];
const CONNECTION: ConnectionInfo = {
  socketId: 'sock-1',
  connectedAt: '2026-11-25T10:00:00.000Z',
  transport: 'websocket',
  rooms: ['user:u1', 'trip:t1'],
};

/** A socket directory with fixed answers that records whose connections were asked for. */
function fakeDirectory() {
  const askedFor: string[] = [];
  const directory: SocketDirectory = {
    connections: () => 3,
    summary: async () => ({
      connections: 3,
      rooms: ROOMS,
      broker: { consumed: 10, delivered: 7, deadLettered: 2, duplicates: 1 },
    }),
    connectionsOf: async (userId) => {
      askedFor.push(userId);
      return userId === 'u1' ? [CONNECTION] : [];
    },
  };
  return { directory, askedFor };
}

/**
 * A publisher that records what it published and answers with eventId e1. Disconnected, it says so
 * through `connected` and refuses like the real one, with a PublishUnavailableError.
 */
function fakePublisher(connected = true, failure?: Error) {
  const published: { type: string; data: unknown }[] = [];
  return {
    published,
    connected,
    publish: async (type: string, data: unknown) => {
      if (!connected) throw new PublishUnavailableError('broker unavailable');
      if (failure) throw failure;
      published.push({ type, data });
      return { eventId: 'e1' };
    },
  };
}

interface SetupOptions {
  brokerConnected?: boolean;
  publisherConnected?: boolean;
  publishFailure?: Error;
  enableTestEndpoints?: boolean;
}

function setup(options: SetupOptions = {}) {
  const { directory, askedFor } = fakeDirectory();
  const publisher = fakePublisher(options.publisherConnected ?? true, options.publishFailure);
  const metrics = new Metrics(() => 0);
  const app = createHttpApp({
    sockets: directory,
    brokerConnected: () => options.brokerConnected ?? true,
    uptimeSeconds: () => 42,
    publisher,
    ...fakeDeadLetters(),
    membership: new MemoryMembershipStore(),
    verifyToken: createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER, audience: TEST_AUDIENCE }),
    cookieName: 'access_token',
    corsOrigins: ['http://localhost:3000', ORIGIN],
    enableTestEndpoints: options.enableTestEndpoints ?? true,
    apiDocuments: lazyApiDocuments(loadConfig({ ENABLE_TEST_ENDPOINTS: String(options.enableTestEndpoints ?? true) })),
    registry: metrics.registry,
    logger: createLogger('silent'),
  });
  return { app, publisher, askedFor, metrics };
}

const userToken = (sub = 'u1', trips: string[] = []) => signToken({ sub, role: 'user', trips });
const adminToken = () => signToken({ sub: 'admin-1', role: 'admin' });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function postJson(token: string | undefined, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? bearer(token) : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

async function json(res: Response) {
  return (await res.json()) as { success: boolean; data?: Record<string, unknown>; error?: { code: string; message: string } };
}

describe('GET /api/v1/socket/health', () => {
  it('answers 200 ok with the broker connected, the connection count and the uptime', async () => {
    const res = await setup().app.request(`${BASE}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      data: { status: 'ok', broker: 'connected', connections: 3, uptimeSeconds: 42 },
    });
  });

  it('answers 503 degraded with error code unavailable while the broker is unreachable', async () => {
    const res = await setup({ brokerConnected: false }).app.request(`${BASE}/health`);
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body.success).toBe(false);
    expect(body.data).toMatchObject({ status: 'degraded', connections: 3, uptimeSeconds: 42 });
    expect(body.error).toEqual({ code: 'unavailable', message: expect.any(String) });
  });

  it('needs no token', async () => {
    const res = await setup().app.request(`${BASE}/health`, { headers: bearer('garbage') });
    expect(res.status).toBe(200);
  });
});

describe.each(['/stats', '/rooms'])('GET %s (admin only)', (path) => {
  it('answers 401 unauthorized without a token', async () => {
    const res = await setup().app.request(`${BASE}${path}`);
    expect(res.status).toBe(401);
    expect(await json(res)).toMatchObject({ success: false, error: { code: 'unauthorized' } });
  });

  it('answers 401 unauthorized with an expired token', async () => {
    const token = await signToken({ sub: 'admin-1', role: 'admin' }, { expiresIn: -60 });
    const res = await setup().app.request(`${BASE}${path}`, { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect((await json(res)).error?.code).toBe('unauthorized');
  });

  it('answers 401 with a token signed by another key', async () => {
    const token = await signToken({ sub: 'admin-1', role: 'admin' }, { secret: 'another-secret-of-enough-length' });
    const res = await setup().app.request(`${BASE}${path}`, { headers: bearer(token) });
    expect(res.status).toBe(401);
  });

  it('answers 403 forbidden for role user', async () => {
    const res = await setup().app.request(`${BASE}${path}`, { headers: bearer(await userToken()) });
    expect(res.status).toBe(403);
    expect(await json(res)).toMatchObject({ success: false, error: { code: 'forbidden' } });
  });

  it('answers 403 for a token without role', async () => {
    const res = await setup().app.request(`${BASE}${path}`, { headers: bearer(await signToken({ sub: 'u1' })) });
    expect(res.status).toBe(403);
  });
});

describe('admin ops routes', () => {
  it('GET /stats gives connections, users, rooms, uptime and the broker counters', async () => {
    const res = await setup().app.request(`${BASE}/stats`, { headers: bearer(await adminToken()) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      data: {
        connections: 3,
        users: 2,
        rooms: 3,
        uptimeSeconds: 42,
        broker: { connected: true, consumed: 10, delivered: 7, deadLettered: 2, duplicates: 1 },
      },
    });
  });

  it('GET /stats reports the broker as disconnected when it is', async () => {
    const res = await setup({ brokerConnected: false }).app.request(`${BASE}/stats`, { headers: bearer(await adminToken()) });
    expect((await json(res)).data?.broker).toMatchObject({ connected: false });
  });

  it('GET /rooms lists rooms with their member counts', async () => {
    const res = await setup().app.request(`${BASE}/rooms`, { headers: bearer(await adminToken()) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: ROOMS });
  });

  it('accepts the token from the access_token cookie too', async () => {
    const res = await setup().app.request(`${BASE}/rooms`, { headers: { Cookie: `access_token=${await adminToken()}` } });
    expect(res.status).toBe(200);
  });
});

describe('GET /api/v1/socket/my-connections', () => {
  it("returns the caller's own connections, asked for by the token's sub", async () => {
    const { app, askedFor } = setup();
    const res = await app.request(`${BASE}/my-connections`, { headers: bearer(await userToken('u1')) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: [CONNECTION] });
    expect(askedFor).toEqual(['u1']);
  });

  it('asks only for the caller, whatever the query says', async () => {
    const { app, askedFor } = setup();
    const res = await app.request(`${BASE}/my-connections?userId=u1`, { headers: bearer(await userToken('u2')) });
    expect(await res.json()).toEqual({ success: true, data: [] });
    expect(askedFor).toEqual(['u2']);
  });

  it('answers 401 without a token', async () => {
    const { app, askedFor } = setup();
    expect((await app.request(`${BASE}/my-connections`)).status).toBe(401);
    expect(askedFor).toEqual([]);
  });
});

describe('POST /api/v1/socket/test-notification', () => {
  const url = `${BASE}/test-notification`;

  it('publishes notification.created to the caller and answers 202 with the eventId', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1'), { title: 'Hi', message: 'There' }));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ success: true, data: { eventId: 'e1' } });
    expect(publisher.published).toEqual([
      { type: 'notification.created', data: { userId: 'u1', notification: { type: 'info', title: 'Hi', message: 'There' } } },
    ]);
  });

  it('keeps the given type and data', async () => {
    const { app, publisher } = setup();
    const body = { userId: 'u1', type: 'warning', title: 'Hi', message: '', data: { tripId: 't1' } };
    expect((await app.request(url, postJson(await userToken('u1'), body))).status).toBe(202);
    expect(publisher.published[0]?.data).toEqual({
      userId: 'u1',
      notification: { type: 'warning', title: 'Hi', message: '', data: { tripId: 't1' } },
    });
  });

  it('answers 403 forbidden when a user names another userId, and publishes nothing', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1'), { userId: 'u2', title: 'Hi', message: '' }));
    expect(res.status).toBe(403);
    expect((await json(res)).error?.code).toBe('forbidden');
    expect(publisher.published).toEqual([]);
  });

  it('lets an admin notify another user', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await adminToken(), { userId: 'u2', title: 'Hi', message: '' }));
    expect(res.status).toBe(202);
    expect(publisher.published[0]?.data).toMatchObject({ userId: 'u2' });
  });

  it.each([
    ['a missing title', { message: 'x' }],
    ['an empty title', { title: '', message: 'x' }],
    ['a title over 200 characters', { title: 'x'.repeat(201), message: 'x' }],
    ['a message over 2000 characters', { title: 't', message: 'x'.repeat(2001) }],
    ['an unknown type', { type: 'urgent', title: 't', message: 'x' }],
    ['an invalid userId', { userId: 'not valid', title: 't', message: 'x' }],
    ['a JSON array', [1, 2]],
  ])('answers 400 invalid_payload for %s, and publishes nothing', async (_what, body) => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1'), body));
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ success: false, error: { code: 'invalid_payload' } });
    expect(publisher.published).toEqual([]);
  });

  it('names the failing field in the invalid_payload message', async () => {
    const res = await setup().app.request(url, postJson(await userToken('u1'), { message: 'x' }));
    expect((await json(res)).error?.message).toMatch(/^title\b/);
  });

  it('answers 400 invalid_payload for malformed JSON', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1'), '{"title": "Hi",'));
    expect(res.status).toBe(400);
    expect((await json(res)).error?.code).toBe('invalid_payload');
    expect(publisher.published).toEqual([]);
  });

  it('answers 400 invalid_payload for a body over 64 KiB, whether or not it declares its length', async () => {
    const { app, publisher } = setup();
    const token = await userToken('u1');
    const big = JSON.stringify({ title: 'Hi', message: 'x', data: { pad: 'y'.repeat(MAX_HTTP_BODY_BYTES) } });
    const declared: Record<string, string>[] = [{}, { 'Content-Length': String(Buffer.byteLength(big)) }];
    for (const headers of declared) {
      const res = await app.request(url, postJson(token, big, headers));
      expect(res.status).toBe(400);
      expect((await json(res)).error?.code).toBe('invalid_payload');
    }
    expect(publisher.published).toEqual([]);
  });

  it('answers 503 unavailable while the broker cannot take the event', async () => {
    const { app, publisher } = setup({ publisherConnected: false });
    const res = await app.request(url, postJson(await userToken('u1'), { title: 'Hi', message: '' }));
    expect(res.status).toBe(503);
    expect((await json(res)).error?.code).toBe('unavailable');
    expect(publisher.published).toEqual([]);
  });

  it('answers 500 internal without the cause when publishing fails unexpectedly', async () => {
    const { app } = setup({ publishFailure: new Error('channel 7 closed: secret detail') });
    const res = await app.request(url, postJson(await userToken('u1'), { title: 'Hi', message: '' }));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ success: false, error: { code: 'internal', message: 'internal error' } });
  });

  it('answers 401 without a token', async () => {
    const res = await setup().app.request(url, postJson(undefined, { title: 'Hi', message: '' }));
    expect(res.status).toBe(401);
    expect((await json(res)).error?.code).toBe('unauthorized');
  });
});

describe('POST /api/v1/socket/test-trip-update', () => {
  const url = `${BASE}/test-trip-update`;
  const body = { tripId: 't1', changes: { name: 'Alps' } };

  it("answers 403 when the token's trips do not include the trip, and publishes nothing", async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1', ['t2']), body));
    expect(res.status).toBe(403);
    expect((await json(res)).error?.code).toBe('forbidden');
    expect(publisher.published).toEqual([]);
  });

  it("publishes trip.updated with updatedBy = the caller when the token's trips include the trip", async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1', ['t1']), body));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ success: true, data: { eventId: 'e1' } });
    expect(publisher.published).toEqual([
      { type: 'trip.updated', data: { tripId: 't1', changes: { name: 'Alps' }, updatedBy: 'u1' } },
    ]);
  });

  it('lets an admin update any trip', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await adminToken(), { tripId: 'any-trip', changes: {} }));
    expect(res.status).toBe(202);
    expect(publisher.published[0]).toMatchObject({ type: 'trip.updated', data: { tripId: 'any-trip', updatedBy: 'admin-1' } });
  });

  it.each([
    ['a missing changes', { tripId: 't1' }],
    ['changes that are not an object', { tripId: 't1', changes: 'x' }],
    ['an invalid tripId', { tripId: 't 1', changes: {} }],
  ])('answers 400 invalid_payload for %s', async (_what, payload) => {
    const res = await setup().app.request(url, postJson(await userToken('u1', ['t1']), payload));
    expect(res.status).toBe(400);
    expect((await json(res)).error?.code).toBe('invalid_payload');
  });
});

describe('POST /api/v1/socket/broadcast', () => {
  const url = `${BASE}/broadcast`;

  it('answers 403 for role user, and publishes nothing', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await userToken('u1'), { title: 'Hi', message: '' }));
    expect(res.status).toBe(403);
    expect(publisher.published).toEqual([]);
  });

  it('publishes notification.broadcast for an admin and answers 202', async () => {
    const { app, publisher } = setup();
    const res = await app.request(url, postJson(await adminToken(), { title: 'Maintenance', message: 'at 22:00' }));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ success: true, data: { eventId: 'e1' } });
    expect(publisher.published).toEqual([
      { type: 'notification.broadcast', data: { notification: { type: 'info', title: 'Maintenance', message: 'at 22:00' } } },
    ]);
  });

  it('answers 400 invalid_payload for an admin body without title', async () => {
    const res = await setup().app.request(url, postJson(await adminToken(), { message: 'x' }));
    expect(res.status).toBe(400);
  });
});

describe('with test endpoints disabled', () => {
  it.each(['/test-notification', '/test-trip-update', '/broadcast'])('POST %s is 404 not_found', async (path) => {
    const { app, publisher } = setup({ enableTestEndpoints: false });
    const res = await app.request(`${BASE}${path}`, postJson(await adminToken(), { title: 'x', message: '', tripId: 't1', changes: {} }));
    expect(res.status).toBe(404);
    expect(await json(res)).toMatchObject({ success: false, error: { code: 'not_found' } });
    expect(publisher.published).toEqual([]);
  });

  it('still serves the ops routes', async () => {
    const res = await setup({ enableTestEndpoints: false }).app.request(`${BASE}/health`);
    expect(res.status).toBe(200);
  });
});

describe('the rest of the app', () => {
  it('answers an unknown route with 404 not_found', async () => {
    const res = await setup().app.request('/api/v1/socket/nope');
    expect(res.status).toBe(404);
    expect(await json(res)).toMatchObject({ success: false, error: { code: 'not_found' } });
  });

  it('serves Prometheus metrics at /metrics', async () => {
    const { app, metrics } = setup();
    metrics.consumed.inc(5);
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('bridge_events_consumed_total 5');
    expect(text).toContain('bridge_connected_sockets');
  });

  it('answers a CORS preflight from an allowed origin with that origin', async () => {
    const res = await setup().app.request(`${BASE}/stats`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('does not allow a CORS preflight from another origin', async () => {
    const res = await setup().app.request(`${BASE}/stats`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example.com', 'Access-Control-Request-Method': 'GET' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('adds the allow-origin header to a simple request from an allowed origin only', async () => {
    const { app } = setup();
    const allowed = await app.request(`${BASE}/health`, { headers: { Origin: ORIGIN } });
    const other = await app.request(`${BASE}/health`, { headers: { Origin: 'https://evil.example.com' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
