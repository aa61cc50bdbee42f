import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, connectError, createClient, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('the socket handshake', () => {
  let t: TestBridge;
  const sockets: TestSocket[] = [];
  const track = (s: TestSocket) => (sockets.push(s), s);

  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  it('accepts a token in auth and answers connected with the user and socket', async () => {
    const token = await signToken({ sub: 'user-1', name: 'Ana' });
    const { socket, connected } = await connectClient(t.url, token);
    track(socket);
    expect(connected).toMatchObject({ userId: 'user-1', socketId: socket.id, message: expect.any(String) });
    expect(Date.parse(connected.serverTime)).not.toBeNaN();
  });

  it.each([
    ['the Authorization header', (token: string) => ({ extraHeaders: { Authorization: `Bearer ${token}` } })],
    ['the token query parameter', (token: string) => ({ query: { token } })],
    ['the access_token cookie', (token: string) => ({ extraHeaders: { Cookie: `theme=dark; access_token=${token}` } })],
  ])('accepts a token from %s', async (_source, options) => {
    const token = await signToken({ sub: 'user-2' });
    const socket = track(createClient(t.url, options(token)));
    const connected = waitFor(socket, 'connected');
    socket.connect();
    expect((await connected).userId).toBe('user-2');
  });

  it('prefers auth.token over the other sources', async () => {
    const good = await signToken({ sub: 'from-auth' });
    const other = await signToken({ sub: 'from-query' });
    const socket = track(createClient(t.url, { auth: { token: good }, query: { token: other } }));
    const connected = waitFor(socket, 'connected');
    socket.connect();
    expect((await connected).userId).toBe('from-auth');
  });

  it.each([
    ['token_missing', async () => ({})],
    ['token_invalid', async () => ({ auth: { token: 'not-a-jwt' } })],
    ['token_invalid', async () => ({ auth: { token: await signToken({ sub: 'u' }, { secret: 'another-secret-of-enough-length' }) } })],
    ['token_invalid', async () => ({ auth: { token: await signToken({ sub: 'u' }, { audience: 'someone-else' }) } })],
    ['token_expired', async () => ({ auth: { token: await signToken({ sub: 'u' }, { expiresIn: -60 }) } })],
  ])('refuses with unauthorized and %s', async (code, options) => {
    const socket = track(createClient(t.url, await options()));
    const err = await connectError(socket);
    expect(err.message).toBe('unauthorized');
    expect(err.data?.code).toBe(code);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const unsigned = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({
      sub: 'mallory',
      exp,
      iss: 'group-planner-api',
      aud: 'group-planner-client',
      role: 'admin',
    })}.`;
    const socket = track(createClient(t.url, { auth: { token: unsigned } }));
    expect((await connectError(socket)).data?.code).toBe('token_invalid');
  });

  it('counts refusals by code in the metrics', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(/bridge_handshake_refusals_total\{code="token_missing"\} [1-9]/);
    expect(text).toMatch(/bridge_handshake_refusals_total\{code="token_expired"\} [1-9]/);
  });
});
