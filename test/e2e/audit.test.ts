import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ROUTE_LIMIT } from '../../src/http/test-routes.js';
import { DEFAULT_SOCKET_LIMITS, MAX_SOCKETS_PER_USER } from '../../src/realtime/socket-limits.js';
import { amqpUrl } from '../helpers/bridge.js';
import { connectClient, connectError, createClient, request, type TestSocket } from '../helpers/client.js';
import { startOwnService, type OwnService } from '../helpers/process.js';
import { signToken } from '../helpers/tokens.js';

type Line = Record<string, unknown>;
const LOCALHOST = expect.stringMatching(/127\.0\.0\.1|::1/);

describe.skipIf(!amqpUrl)('the audit trail of a running service', () => {
  let own: OwnService | undefined;
  const sockets: TestSocket[] = [];

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await own?.stop();
  });

  it('logs refused handshakes, forbidden joins, rate-limit hits and admin actions with user and address, counts them, and never logs a token', async () => {
    own = await startOwnService(amqpUrl!, 'audit');
    const { service: svc, url } = own;
    const find = (event: string, match: (l: Line) => boolean = () => true) =>
      svc.waitForLog((l) => l.event === event && match(l), 5000);

    const userToken = await signToken({ sub: 'audited-user', trips: ['t-own'] });
    const adminToken = await signToken({ sub: 'audited-admin', role: 'admin' });
    const tokens = [userToken, adminToken];

    // A token that does not verify: refused without a user id.
    const badToken = `${userToken}x`;
    await connectError(createClient(url, { auth: { token: badToken } }));
    expect(await find('socket.refused', (l) => l.code === 'token_invalid')).toMatchObject({ address: LOCALHOST });

    // The socket cap: the token verified, so the refusal names the user.
    for (let i = 0; i < MAX_SOCKETS_PER_USER; i++) sockets.push((await connectClient(url, userToken)).socket);
    const extra = createClient(url, { auth: { token: userToken } });
    sockets.push(extra);
    expect((await connectError(extra)).message).toBe('rate_limited');
    expect(await find('socket.refused', (l) => l.code === 'rate_limited')).toMatchObject({
      userId: 'audited-user',
      address: LOCALHOST,
      limiter: 'sockets_per_user',
    });

    // A forbidden join.
    const socket = sockets[0]!;
    expect(await request(socket, 'trip:join', { tripId: 't-secret' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await find('audit.forbidden')).toMatchObject({
      userId: 'audited-user',
      address: LOCALHOST,
      tripId: 't-secret',
      clientEvent: 'trip:join',
      level: 40,
    });

    // A burst past the socket's budget: one line for the window, whatever the number of hits.
    const burst = Array.from({ length: DEFAULT_SOCKET_LIMITS.eventsPerSocket.points + 5 }, () => request(sockets[1]!, 'ping', null));
    await Promise.all(burst);
    expect(await find('audit.rate_limited', (l) => l.clientEvent === 'ping')).toMatchObject({
      userId: 'audited-user',
      address: LOCALHOST,
      limiter: 'events_per_socket',
    });

    // Admin actions over HTTP, refused ones included.
    const api = (path: string, token: string, body?: unknown) =>
      fetch(`${url}/api/v1/socket${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await api('/stats', adminToken)).status).toBe(200);
    expect((await api('/rooms', userToken)).status).toBe(403);
    expect((await api('/broadcast', adminToken, { title: 'Maintenance', message: '' })).status).toBe(202);
    expect((await api('/test-notification', adminToken, { userId: 'audited-user', title: 'x', message: '' })).status).toBe(202);
    const admin = (path: string, status: number) =>
      find('audit.admin', (l) => l.path === `/api/v1/socket${path}` && l.status === status);
    expect(await admin('/stats', 200)).toMatchObject({ userId: 'audited-admin', method: 'GET', address: LOCALHOST });
    expect(await admin('/rooms', 403)).toMatchObject({ userId: 'audited-user', method: 'GET' });
    expect(await admin('/broadcast', 202)).toMatchObject({ userId: 'audited-admin', method: 'POST' });
    expect(await admin('/test-notification', 202)).toMatchObject({ userId: 'audited-admin', method: 'POST' });

    // The HTTP budget of the test routes.
    const posts = Array.from({ length: TEST_ROUTE_LIMIT.points + 1 }, () => api('/test-notification', userToken, { title: 'x', message: '' }));
    expect((await Promise.all(posts)).map((r) => r.status)).toContain(429);
    expect(await find('audit.rate_limited', (l) => l.limiter === 'http_test_routes')).toMatchObject({
      userId: 'audited-user',
      address: LOCALHOST,
      route: 'POST /api/v1/socket/test-notification',
    });

    // Counted in metrics.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const value = (pattern: RegExp) => Number(metrics.match(pattern)?.[1] ?? 0);
    expect(value(/bridge_audit_events_total\{event="socket\.refused"\} (\d+)/)).toBe(2);
    expect(value(/bridge_audit_events_total\{event="audit\.forbidden"\} (\d+)/)).toBe(1);
    expect(value(/bridge_audit_events_total\{event="audit\.admin"\} (\d+)/)).toBe(4);
    // Every hit counts, even those a window's first line stood for: 5 events, 1 socket, 1 request.
    expect(value(/bridge_audit_events_total\{event="audit\.rate_limited"\} (\d+)/)).toBe(7);
    expect(value(/bridge_rate_limited_total\{limiter="events_per_socket"\} (\d+)/)).toBe(5);
    expect(value(/bridge_rate_limited_total\{limiter="sockets_per_user"\} (\d+)/)).toBe(1);
    expect(value(/bridge_rate_limited_total\{limiter="http_test_routes"\} (\d+)/)).toBe(1);

    // One line per window for the burst; no token (nor the bad one) anywhere.
    expect(svc.logs().filter((l) => l.event === 'audit.rate_limited' && l.clientEvent === 'ping')).toHaveLength(1);
    const output = svc.lines.join('\n');
    for (const token of [...tokens, badToken]) expect(output).not.toContain(token.split('.')[2]);

    // The expiry interval does not hold the process: SIGTERM still exits 0 promptly.
    svc.child.kill('SIGTERM');
    expect(await svc.exited(12_000)).toBe(0);
  });
});
