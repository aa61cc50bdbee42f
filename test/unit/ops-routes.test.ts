import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OpsSnapshot } from '../../contracts/index.js';
import { lazyApiDocuments } from '../../src/api-docs/index.js';
import { createTokenVerifier } from '../../src/auth/verify-token.js';
import { loadConfig } from '../../src/config.js';
import { createHttpApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { OpsMonitor } from '../../src/ops/monitor.js';
import { OPS_JS } from '../../src/ops/page/script.js';
import type { SocketDirectory } from '../../src/realtime/socket-directory.js';
import { MemoryMembershipStore } from '../../src/state/memory-stores.js';
import { until } from '../helpers/client.js';
import { fakeDeadLetters } from '../helpers/fake-dead-letters.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';

const ROOMS = [
  { name: 'user:u1', members: 2 },
  { name: 'trip:big', members: 7 },
  { name: 'user:u2', members: 1 },
  { name: 'trip:t1', members: 3 },
];

const monitors: OpsMonitor[] = [];
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
});

function setup(options: { maxStreams?: number; redis?: boolean; tickMs?: number } = {}) {
  const metrics = new Metrics(() => 0);
  const ops = new OpsMonitor(metrics, { tickMs: options.tickMs ?? 50, maxStreams: options.maxStreams });
  monitors.push(ops);
  const sockets: SocketDirectory = {
    connections: () => 13,
    summary: async () => ({ connections: 13, rooms: ROOMS, broker: { consumed: 0, delivered: 0, deadLettered: 0, duplicates: 0 } }),
    connectionsOf: async () => [],
  };
  const dead = fakeDeadLetters();
  const app = createHttpApp({
    sockets,
    brokerConnected: () => true,
    redisConnected: options.redis === undefined ? undefined : () => options.redis!,
    uptimeSeconds: () => 42,
    publisher: { publish: async () => ({ eventId: 'e1' }) },
    ...dead,
    membership: new MemoryMembershipStore(),
    verifyToken: createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER, audience: TEST_AUDIENCE }),
    cookieName: 'access_token',
    corsOrigins: ['http://localhost:5173'],
    enableTestEndpoints: false,
    apiDocuments: lazyApiDocuments(loadConfig({})),
    registry: metrics.registry,
    logger: createLogger('silent'),
    ops,
  });
  return { app, metrics, ops, asked: dead.asked };
}

const bearer = async (claims: { sub: string; role?: 'admin' | 'user' }) => ({ Authorization: `Bearer ${await signToken(claims)}` });
const admin = () => bearer({ sub: 'ops-1', role: 'admin' });

/** Reads server-sent events from a response until `count` have come (or the stream ends). */
async function readEvents(reader: ReadableStreamDefaultReader<Uint8Array>, count: number) {
  const decoder = new TextDecoder();
  const events: Array<{ event: string; data: string }> = [];
  let buffer = '';
  while (events.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      events.push({
        event: frame.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message',
        data: frame.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'),
      });
    }
  }
  return events;
}

describe('GET /api/v1/socket/ops/snapshot', () => {
  it('is 401 without a token or with a bad one, 403 for a user, each in the error shape', async () => {
    const { app } = setup();
    const none = await app.request('/api/v1/socket/ops/snapshot');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ success: false, error: { code: 'unauthorized' } });
    const bad = await app.request('/api/v1/socket/ops/snapshot', { headers: { Authorization: 'Bearer not.a.jwt' } });
    expect(bad.status).toBe(401);
    const user = await app.request('/api/v1/socket/ops/snapshot', { headers: await bearer({ sub: 'u1', role: 'user' }) });
    expect(user.status).toBe(403);
    expect(await user.json()).toEqual({ success: false, error: { code: 'forbidden', message: 'admin only' } });
  });

  it('gives an admin a snapshot that the contract accepts, rooms largest first', async () => {
    const { app, metrics, asked } = setup({ redis: true });
    metrics.deliveredOf('trip.updated').inc(3);
    metrics.deadLettered.inc({ reason: 'invalid_json' });
    const res = await app.request('/api/v1/socket/ops/snapshot', { headers: await admin() });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { success: true; data: unknown };
    const snapshot = OpsSnapshot.parse(body.data);
    expect(snapshot).toMatchObject({
      connections: 13,
      users: 2,
      broker: { connected: true },
      redis: { configured: true, connected: true },
      rooms: { total: 4, largest: [{ name: 'trip:big', members: 7 }, { name: 'trip:t1', members: 3 }, { name: 'user:u1', members: 2 }, { name: 'user:u2', members: 1 }] },
      deadLetterQueue: { queue: 'fake.dead-letter', messages: 0 },
      instance: { pid: process.pid, uptimeSeconds: 42 },
    });
    expect(snapshot.events.delivered).toEqual([{ type: 'trip.updated', total: 3, perSecond: expect.any(Number) }]);
    expect(snapshot.events.delivered[0]!.perSecond).toBeGreaterThan(0);
    expect(snapshot.events.deadLettered).toMatchObject([{ reason: 'invalid_json', total: 1 }]);
    // The count only declares the queue: nothing is taken from it.
    expect(asked).toContainEqual(['list', 0]);
  });

  it('says Redis is not configured when the bridge runs without it', async () => {
    const { app } = setup();
    const { data } = (await (await app.request('/api/v1/socket/ops/snapshot', { headers: await admin() })).json()) as { data: { redis: unknown } };
    expect(data.redis).toEqual({ configured: false, connected: null });
  });
});

describe('GET /api/v1/socket/ops/stream', () => {
  it('is for admins only', async () => {
    const { app, ops } = setup();
    expect((await app.request('/api/v1/socket/ops/stream')).status).toBe(401);
    expect((await app.request('/api/v1/socket/ops/stream', { headers: await bearer({ sub: 'u1' }) })).status).toBe(403);
    expect(ops.openStreams()).toBe(0);
  });

  it('pushes a snapshot per tick, with rates over its own ticks', async () => {
    const { app, metrics, ops } = setup();
    const res = await app.request('/api/v1/socket/ops/stream', { headers: await admin() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const [first] = await readEvents(reader, 1);
    expect(first!.event).toBe('snapshot');
    expect(ops.openStreams()).toBe(1);
    metrics.deliveredOf('trip.created').inc(5);
    let later: OpsSnapshot | undefined;
    for (let i = 0; i < 20 && !later?.events.delivered.length; i++) later = OpsSnapshot.parse(JSON.parse((await readEvents(reader, 1))[0]!.data));
    expect(later!.events.delivered).toMatchObject([{ type: 'trip.created', total: 5 }]);
    // A tick later nothing new was delivered: the stream's own rate falls back to zero.
    const quiet = OpsSnapshot.parse(JSON.parse((await readEvents(reader, 1))[0]!.data));
    expect(quiet.events.delivered).toEqual([{ type: 'trip.created', total: 5, perSecond: 0 }]);
    expect(quiet.intervalSeconds).toBeGreaterThan(0.03);
    expect(quiet.intervalSeconds).toBeLessThan(1);
    await reader.cancel();
  });

  it('stops its timer at once when the client goes away, not at the next tick', async () => {
    const { app, ops } = setup({ tickMs: 60_000 });
    const res = await app.request('/api/v1/socket/ops/stream', { headers: await admin() });
    const reader = res.body!.getReader();
    expect((await readEvents(reader, 1))[0]!.event).toBe('snapshot');
    expect(ops.openStreams()).toBe(1);
    await reader.cancel();
    await until(() => ops.openStreams() === 0, 1000, 'the stream to be released');
  });

  it('refuses more than maxStreams at once (429), and ends open streams when the monitor closes', async () => {
    const { app, ops } = setup({ maxStreams: 1 });
    const headers = await admin();
    const open = await app.request('/api/v1/socket/ops/stream', { headers });
    const reader = open.body!.getReader();
    await readEvents(reader, 1);
    const second = await app.request('/api/v1/socket/ops/stream', { headers });
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ success: false, error: { code: 'rate_limited' } });

    ops.close();
    // The rest of the stream ends: at most the tick in flight, then done.
    const deadline = Date.now() + 2000;
    let done = false;
    while (!done && Date.now() < deadline) done = (await reader.read()).done;
    expect(done).toBe(true);
    expect(ops.openStreams()).toBe(0);
  });
});

describe('GET /ops (the page)', () => {
  it('is public static content under a strict policy: own script and style only, never framed', async () => {
    const { app } = setup();
    const res = await app.request('/ops');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    // Every script is a separate file: no inline code, no inline handlers.
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script type="module" src="/ops/app.js">']);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    const js = await app.request('/ops/app.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-security-policy')).toBe(csp);
    expect(await js.text()).toBe(OPS_JS);
    expect((await app.request('/ops/style.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('has a script that parses as a module and keeps the token out of storage, cookies, URLs and HTML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-page-'));
    try {
      writeFileSync(join(dir, 'app.mjs'), OPS_JS);
      execFileSync(process.execPath, ['--check', join(dir, 'app.mjs')], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const banned of ['localStorage', 'sessionStorage', 'document.cookie', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'EventSource']) {
      expect(OPS_JS, banned).not.toContain(banned);
    }
    // The token travels in one place only: the Authorization header.
    expect(OPS_JS).toContain("Authorization: 'Bearer ' + token");
    expect(OPS_JS).not.toMatch(/[?&]token=/);
  });
});
