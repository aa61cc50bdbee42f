import { describe, expect, it } from 'vitest';
import { createAudit } from '../../src/auth/audit.js';
import { checkRule, memoryRateLimiters } from '../../src/auth/rate-limiter.js';
import { createTokenVerifier } from '../../src/auth/verify-token.js';
import { createHttpApp } from '../../src/http/app.js';
import { TEST_ROUTE_LIMIT } from '../../src/http/test-routes.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { DEFAULT_SOCKET_LIMITS, MAX_SOCKETS_PER_USER, SocketLimiter } from '../../src/realtime/socket-limits.js';
import { defaultApiDocuments } from '../helpers/api-documents.js';
import { emptySocketDirectory } from '../helpers/fake-directory.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';
import { fakeDeadLetters } from '../helpers/fake-dead-letters.js';
import { MemoryMembershipStore } from '../../src/state/memory-stores.js';

/** A logger whose JSON lines land in an array. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

describe('memoryRateLimiters', () => {
  it('lets `points` through per window, then refuses with the time to wait; the first refusal is marked', async () => {
    const limiter = memoryRateLimiters('unit_test', { points: 3, durationSeconds: 1 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await limiter.consume('k'));
    expect(results.slice(0, 3)).toEqual([{ limited: false }, { limited: false }, { limited: false }]);
    expect(results[3]).toMatchObject({ limited: true, firstHit: true });
    expect(results[4]).toMatchObject({ limited: true, firstHit: false });
    const wait = results[3]!.limited ? results[3]!.retryAfterMs : -1;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1000);
    expect(await limiter.consume('other-key')).toEqual({ limited: false });
  });

  it('forget() gives a key its budget back', async () => {
    const limiter = memoryRateLimiters('unit_forget', { points: 1, durationSeconds: 60 });
    await limiter.consume('socket-1');
    expect((await limiter.consume('socket-1')).limited).toBe(true);
    await limiter.forget('socket-1');
    expect((await limiter.consume('socket-1')).limited).toBe(false);
  });

  it.each([
    ['a name that is not snake_case', 'Bad-Name', { points: 1, durationSeconds: 1 }, /snake_case/],
    ['zero points', 'x', { points: 0, durationSeconds: 1 }, /points/],
    ['fractional points', 'x', { points: 1.5, durationSeconds: 1 }, /points/],
    ['a zero window', 'x', { points: 1, durationSeconds: 0 }, /durationSeconds/],
  ])('refuses %s when built', (_what, name, rule, error) => {
    expect(() => checkRule(name, rule)).toThrow(error);
    expect(() => memoryRateLimiters(name, rule)).toThrow(error);
  });
});

describe('SocketLimiter', () => {
  const source = { socketId: 's1', userId: 'u1', address: '10.0.0.1' };

  function limiter(limits = {}) {
    const { logger, lines } = capturedLogger();
    const metrics = new Metrics(() => 0);
    return { limiter: new SocketLimiter({ audit: createAudit(logger, metrics), metrics, limits }), lines, metrics };
  }

  it('has the documented defaults', () => {
    expect(MAX_SOCKETS_PER_USER).toBe(10);
    expect(DEFAULT_SOCKET_LIMITS).toEqual({
      eventsPerSocket: { points: 20, durationSeconds: 1 },
      eventsPerUser: { points: 50, durationSeconds: 1 },
      typingPerSocket: { points: 5, durationSeconds: 1 },
      handshakesPerAddress: { points: 100, durationSeconds: 5 },
      socketsPerUser: 10,
    });
  });

  it('caps sockets per user and gives a place back once, however often release is called', () => {
    const { limiter: l } = limiter({ socketsPerUser: 2 });
    const first = l.reserveSocket('u1');
    const second = l.reserveSocket('u1');
    expect(typeof first).toBe('function');
    expect(typeof second).toBe('function');
    expect(l.reserveSocket('u1')).toMatchObject({ limiter: 'sockets_per_user', message: expect.stringContaining('2') });
    expect(typeof l.reserveSocket('u2')).toBe('function');
    (first as () => void)();
    (first as () => void)();
    expect(l.socketsOf('u1')).toBe(1);
    expect(typeof l.reserveSocket('u1')).toBe('function');
    expect(l.reserveSocket('u1')).toMatchObject({ limiter: 'sockets_per_user' });
  });

  it('throws rate_limited past the socket budget, audits the first hit once and counts every hit', async () => {
    const { limiter: l, lines, metrics } = limiter({ eventsPerSocket: { points: 2, durationSeconds: 60 } });
    await l.checkEvent(source, 'ping');
    await l.checkEvent(source, 'trip:join');
    for (let i = 0; i < 3; i++) {
      await expect(l.checkEvent(source, 'ping')).rejects.toMatchObject({ code: 'rate_limited' });
    }
    const audited = lines.filter((line) => line.event === 'audit.rate_limited');
    expect(audited).toEqual([
      expect.objectContaining({ userId: 'u1', address: '10.0.0.1', socketId: 's1', clientEvent: 'ping', limiter: 'events_per_socket' }),
    ]);
    expect(await counter(metrics, 'bridge_rate_limited_total', { limiter: 'events_per_socket' })).toBe(3);
    expect(await counter(metrics, 'bridge_audit_events_total', { event: 'audit.rate_limited' })).toBe(3);
  });

  it('limits typing more strictly than other events, and a user across sockets', async () => {
    const { limiter: l } = limiter({
      typingPerSocket: { points: 1, durationSeconds: 60 },
      eventsPerUser: { points: 3, durationSeconds: 60 },
    });
    await l.checkEvent(source, 'trip:typing');
    await expect(l.checkEvent(source, 'trip:typing')).rejects.toThrow(/typing_per_socket/);
    await l.checkEvent(source, 'ping');
    await l.checkEvent({ ...source, socketId: 's2' }, 'ping');
    await expect(l.checkEvent({ ...source, socketId: 's3' }, 'ping')).rejects.toThrow(/events_per_user/);
  });

  it('refuses handshakes from an address past its budget, logging only the first of a window', async () => {
    const { limiter: l } = limiter({ handshakesPerAddress: { points: 2, durationSeconds: 60 } });
    expect(await l.admitHandshake('10.0.0.9')).toBeUndefined();
    expect(await l.admitHandshake('10.0.0.9')).toBeUndefined();
    expect(await l.admitHandshake('10.0.0.9')).toMatchObject({ limiter: 'handshakes_per_address', log: true });
    expect(await l.admitHandshake('10.0.0.9')).toMatchObject({ log: false });
    expect(await l.admitHandshake('10.0.0.10')).toBeUndefined();
  });
});

describe('HTTP rate limit on the test endpoints (app.request, no network)', () => {
  const verifyToken = createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER, audience: TEST_AUDIENCE });

  function app() {
    const { logger, lines } = capturedLogger();
    const metrics = new Metrics(() => 0);
    const published: unknown[] = [];
    const http = createHttpApp({
      sockets: emptySocketDirectory(),
      brokerConnected: () => true,
      uptimeSeconds: () => 1,
      ...fakeDeadLetters(),
      membership: new MemoryMembershipStore(),
      publisher: { publish: async (type: string) => (published.push(type), { eventId: 'e1' }) },
      verifyToken,
      cookieName: 'access_token',
      corsOrigins: ['http://localhost:5173'],
      enableTestEndpoints: true,
      apiDocuments: defaultApiDocuments(),
      registry: metrics.registry,
      logger,
      audit: createAudit(logger, metrics),
      metrics,
    });
    return { http, lines, metrics, published };
  }

  const post = (token: string, path: string, body: unknown) => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });

  it('answers 429 rate_limited with Retry-After once a user spent the budget shared by the three routes', async () => {
    const { http, lines, metrics, published } = app();
    const token = await signToken({ sub: 'busy', role: 'admin', trips: ['t1'] });
    const other = await signToken({ sub: 'calm' });
    const routes: Array<[string, unknown]> = [
      ['/test-notification', { title: 'x', message: '' }],
      ['/test-trip-update', { tripId: 't1', changes: {} }],
      ['/broadcast', { title: 'x', message: '' }],
    ];
    const statuses: number[] = [];
    for (let i = 0; i < TEST_ROUTE_LIMIT.points; i++) {
      const [path, body] = routes[i % 3]!;
      statuses.push((await http.request(`/api/v1/socket${path}`, post(token, path, body))).status);
    }
    expect(statuses.every((s) => s === 202)).toBe(true);

    const limited = await http.request('/api/v1/socket/test-trip-update', post(token, '', { tripId: 't1', changes: {} }));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toEqual({ success: false, error: { code: 'rate_limited', message: expect.any(String) } });
    expect(published).toHaveLength(TEST_ROUTE_LIMIT.points);

    // Another user has a budget of their own.
    expect((await http.request('/api/v1/socket/test-notification', post(other, '', { title: 'x', message: '' }))).status).toBe(202);
    expect(lines.filter((l) => l.event === 'audit.rate_limited')).toEqual([
      expect.objectContaining({ userId: 'busy', route: 'POST /api/v1/socket/test-trip-update', limiter: 'http_test_routes' }),
    ]);
    expect(await counter(metrics, 'bridge_rate_limited_total', { limiter: 'http_test_routes' })).toBe(1);
  });

  it('audits admin routes with user and status, refused attempts included, and never logs the token', async () => {
    const { http, lines, metrics } = app();
    const admin = await signToken({ sub: 'root-1', role: 'admin' });
    const user = await signToken({ sub: 'plain-1' });
    const get = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
    expect((await http.request('/api/v1/socket/stats', get(admin))).status).toBe(200);
    expect((await http.request('/api/v1/socket/rooms', get(user))).status).toBe(403);
    expect((await http.request('/api/v1/socket/test-notification', post(admin, '', { userId: 'plain-1', title: 'x', message: '' }))).status).toBe(202);
    expect((await http.request('/api/v1/socket/test-notification', post(user, '', { userId: 'root-1', title: 'x', message: '' }))).status).toBe(403);
    // Notifying oneself and reading one's own connections are not admin actions.
    expect((await http.request('/api/v1/socket/test-notification', post(user, '', { title: 'x', message: '' }))).status).toBe(202);
    expect((await http.request('/api/v1/socket/my-connections', get(user))).status).toBe(200);

    const admins = lines.filter((l) => l.event === 'audit.admin');
    expect(admins.map((l) => [l.userId, l.method, l.path, l.status])).toEqual([
      ['root-1', 'GET', '/api/v1/socket/stats', 200],
      ['plain-1', 'GET', '/api/v1/socket/rooms', 403],
      ['root-1', 'POST', '/api/v1/socket/test-notification', 202],
      ['plain-1', 'POST', '/api/v1/socket/test-notification', 403],
    ]);
    expect(await counter(metrics, 'bridge_audit_events_total', { event: 'audit.admin' })).toBe(4);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(admin.split('.')[2]);
    expect(text).not.toContain(user.split('.')[2]);
  });

  it('audits a forbidden trip update as audit.forbidden with the trip', async () => {
    const { http, lines } = app();
    const user = await signToken({ sub: 'outsider' });
    expect((await http.request('/api/v1/socket/test-trip-update', post(user, '', { tripId: 'secret-trip', changes: {} }))).status).toBe(403);
    expect(lines.find((l) => l.event === 'audit.forbidden')).toMatchObject({
      userId: 'outsider',
      tripId: 'secret-trip',
      route: 'POST /api/v1/socket/test-trip-update',
    });
  });
});
