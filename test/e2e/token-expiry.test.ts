import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The `exp` of a token, read back from its payload. */
const expOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
const disconnected = (socket: TestSocket) => new Promise<string>((resolve) => socket.once('disconnect', resolve));

// The three cases wait for real expiries, so they run side by side (each with its own user).
describe.skipIf(!amqpUrl).concurrent('token life on a socket', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  it('sends auth:expired at the token’s exp and disconnects the socket within a second', async () => {
    const token = await signToken({ sub: 'short-lived' }, { expiresIn: 2 });
    const { socket } = await connectClient(t.url, token);
    sockets.push(socket);
    const expired = waitFor(socket, 'auth:expired', 4000);
    const gone = disconnected(socket);

    const payload = await expired;
    const at = Date.now();
    expect(payload).toEqual({ expiredAt: new Date(expOf(token) * 1000).toISOString() });
    expect(at).toBeGreaterThanOrEqual(expOf(token) * 1000);
    expect(at - expOf(token) * 1000).toBeLessThan(1000);
    expect(await gone).toBe('io server disconnect');
    expect(socket.connected).toBe(false);
  });

  it('keeps a socket whose token was refreshed past the first expiry', async () => {
    const token = await signToken({ sub: 'refresher' }, { expiresIn: 2 });
    const { socket } = await connectClient(t.url, token);
    sockets.push(socket);
    const expiries = collect(socket, 'auth:expired');

    const fresh = await signToken({ sub: 'refresher' }, { expiresIn: 3600 });
    const ack = await request(socket, 'auth:refresh', { token: fresh });
    expect(ack).toEqual({ ok: true, expiresAt: new Date(expOf(fresh) * 1000).toISOString() });

    await sleep(expOf(token) * 1000 - Date.now() + 1300);
    expect(expiries).toHaveLength(0);
    expect(socket.connected).toBe(true);
    expect(await request(socket, 'ping', null)).toMatchObject({ ok: true });
  });

  it('refuses a refresh for another user with forbidden, and the socket still ends at its own expiry', async () => {
    const token = await signToken({ sub: 'victim-of-mixup' }, { expiresIn: 2 });
    const { socket } = await connectClient(t.url, token);
    sockets.push(socket);
    const expired = waitFor(socket, 'auth:expired', 4000);
    const gone = disconnected(socket);

    const foreign = await signToken({ sub: 'someone-else' }, { expiresIn: 3600 });
    expect(await request(socket, 'auth:refresh', { token: foreign })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await expired).toEqual({ expiredAt: new Date(expOf(token) * 1000).toISOString() });
    expect(await gone).toBe('io server disconnect');
  });
});
