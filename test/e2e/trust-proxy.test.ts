import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { createClient, type TestSocket } from '../helpers/client.js';
import { startOwnService, type OwnService } from '../helpers/process.js';
import { signToken } from '../helpers/tokens.js';

const BUDGET = 3;

/** One handshake as a client behind the proxy at 127.0.0.1 would make it: `ok`, or the refusal's code. */
async function handshake(url: string, token: string, forwardedFor: string | undefined, sockets: TestSocket[]): Promise<string> {
  const socket = createClient(url, { auth: { token }, ...(forwardedFor ? { extraHeaders: { 'X-Forwarded-For': forwardedFor } } : {}) });
  sockets.push(socket);
  const outcome = new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('ok'));
    socket.once('connect_error', (err) => resolve((err as { data?: { code?: string } }).data?.code ?? err.message));
  });
  socket.connect();
  return outcome;
}

async function handshakes(url: string, token: string, forwardedFor: string | undefined, count: number, sockets: TestSocket[]) {
  const outcomes: string[] = [];
  for (let i = 0; i < count; i++) outcomes.push(await handshake(url, token, forwardedFor, sockets));
  return outcomes;
}

const spent = Array.from({ length: BUDGET }, () => 'ok');

describe.skipIf(!amqpUrl)('per-address handshake budgets and TRUST_PROXY', () => {
  let proxied: TestBridge;
  let direct: TestBridge;
  let token: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    token = await signToken({ sub: 'behind-proxy' });
    // Tests connect from 127.0.0.1: to the first bridge that is the trusted proxy.
    [proxied, direct] = await Promise.all([
      startTestBridge({ TRUST_PROXY: '127.0.0.1', HANDSHAKES_PER_ADDRESS: String(BUDGET) }),
      startTestBridge({ HANDSHAKES_PER_ADDRESS: String(BUDGET) }),
    ]);
  }, 20_000);
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([proxied?.stop(), direct?.stop()]);
  });

  it('gives two clients behind a trusted proxy a budget each, and a spoofed prefix buys no third one', async () => {
    expect(await handshakes(proxied.url, token, '203.0.113.1', BUDGET + 1, sockets)).toEqual([...spent, 'rate_limited']);
    expect(await handshakes(proxied.url, token, '203.0.113.2', BUDGET, sockets)).toEqual(spent);
    // The client writes what it likes left of the proxy's entry: the proxy's entry still counts.
    expect(await handshake(proxied.url, token, '198.51.100.50, 203.0.113.1', sockets)).toBe('rate_limited');
    // The proxy's own budget (requests without the header) is untouched by its clients'.
    expect(await handshake(proxied.url, token, undefined, sockets)).toBe('ok');
  });

  it('without TRUST_PROXY, ignores X-Forwarded-For: every client from one address shares one budget', async () => {
    expect(await handshakes(direct.url, token, '203.0.113.1', BUDGET, sockets)).toEqual(spent);
    expect(await handshake(direct.url, token, '203.0.113.2', sockets)).toBe('rate_limited');
  });
});

describe.skipIf(!amqpUrl)('audit lines behind a trusted proxy', () => {
  let own: OwnService | undefined;
  const sockets: TestSocket[] = [];

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await own?.stop();
  });

  it("name the client from X-Forwarded-For, on the socket and the HTTP side", async () => {
    own = await startOwnService(amqpUrl!, 'xff-audit', { TRUST_PROXY: '127.0.0.1, ::1' });
    const { service: svc, url } = own;

    expect(await handshake(url, 'not-a-token', '198.51.100.1, 203.0.113.7', sockets)).toBe('token_invalid');
    expect(await svc.waitForLog((l) => l.event === 'socket.refused' && l.code === 'token_invalid', 5000)).toMatchObject({ address: '203.0.113.7' });

    const admin = await signToken({ sub: 'xff-admin', role: 'admin' });
    const res = await fetch(`${url}/api/v1/socket/stats`, { headers: { Authorization: `Bearer ${admin}`, 'X-Forwarded-For': '203.0.113.8' } });
    expect(res.status).toBe(200);
    expect(await svc.waitForLog((l) => l.event === 'audit.admin' && l.userId === 'xff-admin', 5000)).toMatchObject({ address: '203.0.113.8' });

    const connected = await handshake(url, await signToken({ sub: 'xff-user' }), '203.0.113.9', sockets);
    expect(connected).toBe('ok');
    expect(await svc.waitForLog((l) => l.event === 'socket.connected' && l.userId === 'xff-user', 5000)).toMatchObject({ address: '203.0.113.9' });
  }, 25_000);
});
