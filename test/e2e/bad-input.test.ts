import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, connectError, createClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';

/**
 * A bad-input corpus: hostile tokens, client event payloads and HTTP bodies, each answered with
 * its documented error, after which the same bridge still serves /health and delivers events.
 * Limits are raised here so that the corpus measures validation, not rate limiting.
 */
const LOOSE = { points: 100_000, durationSeconds: 1 };
const ONE_MB = 1e6;

type AnyAck = { ok: boolean; error?: { code: string; message: string } };
type Raw = { timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<AnyAck> }; emit(event: string, ...args: unknown[]): void };
const raw = (socket: TestSocket) => socket as unknown as Raw;

const now = () => Math.floor(Date.now() / 1000);
const secret = new TextEncoder().encode(TEST_SECRET);
/** An HS256 token with the suite's secret and arbitrary claims (no helper defaults). */
const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256' }) =>
  new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
const base = () => ({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: now() + 3600, iat: now() });

/** Hostile tokens, with the handshake code, the auth:refresh code and the HTTP status each must get. */
const TOKENS: Array<[string, () => Promise<unknown>, string, string]> = [
  ['garbage', async () => 'garbage.garbage.garbage', 'token_invalid', 'unauthorized'],
  ['not even dotted', async () => 'not-a-jwt', 'token_invalid', 'unauthorized'],
  ['an empty string', async () => '', 'token_missing', 'invalid_payload'],
  ['a 10 KB string', async () => 'a'.repeat(10_240), 'token_invalid', 'invalid_payload'],
  ['a number', async () => 12345, 'token_missing', 'invalid_payload'],
  ['an object', async () => ({ alg: 'none' }), 'token_missing', 'invalid_payload'],
  ['HS512 with the right secret (wrong alg)', () => sign({ sub: 'u', ...base() }, { alg: 'HS512' }), 'token_invalid', 'unauthorized'],
  ['alg none', async () => new UnsecuredJWT({ sub: 'u', role: 'admin', ...base() }).encode(), 'token_invalid', 'unauthorized'],
  ['a stripped signature', async () => (await signToken({ sub: 'u' })).replace(/\.[^.]+$/, '.'), 'token_invalid', 'unauthorized'],
  ['expired', () => signToken({ sub: 'u' }, { expiresIn: -10 }), 'token_expired', 'unauthorized'],
  ['not valid before an hour from now (nbf)', () => sign({ sub: 'u', nbf: now() + 3600, ...base() }), 'token_invalid', 'unauthorized'],
  ['without sub', () => sign({ ...base() }), 'token_invalid', 'unauthorized'],
  ['without exp', () => sign({ sub: 'u', iss: TEST_ISSUER, aud: TEST_AUDIENCE }), 'token_invalid', 'unauthorized'],
  ['with a sub of illegal characters', () => signToken({ sub: 'user 1; DROP TABLE' }), 'token_invalid', 'unauthorized'],
  ['with a sub that is a path', () => signToken({ sub: '../../etc/passwd' }), 'token_invalid', 'unauthorized'],
  ['with a numeric sub', () => sign({ sub: 42, ...base() }), 'token_invalid', 'unauthorized'],
  ['with trips that are not an array', () => signToken({ sub: 'u', trips: 'trip-1' as unknown as string[] }), 'token_invalid', 'unauthorized'],
  ['with trips holding an object', () => signToken({ sub: 'u', trips: [{ $ne: null }] as unknown as string[] }), 'token_invalid', 'unauthorized'],
  ['with a role of root', () => signToken({ sub: 'u', role: 'root' as unknown as 'admin' }), 'token_invalid', 'unauthorized'],
  ['from another issuer', () => signToken({ sub: 'u' }, { issuer: 'evil' }), 'token_invalid', 'unauthorized'],
  ['with a prototype-polluting payload', () => sign(JSON.parse(`{"__proto__":{"role":"admin"},"sub":"u p"}`)), 'token_invalid', 'unauthorized'],
];

/** Payloads no client event accepts (ping accepts anything): [label, args before the ack]. */
const deep = (depth: number): unknown => {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = { a: value };
  return { tripId: value, token: value, changes: value };
};
const HOSTILE: Array<[string, unknown[]]> = [
  ['no payload', []],
  ['null', [null]],
  ['a number', [42]],
  ['a negative float', [-1.5]],
  ['a boolean', [true]],
  ['a string', ['trip-1']],
  ['an array', [[{ tripId: 't-corpus', token: 'x', typing: true, changes: {} }]]],
  ['a deeply nested object', [deep(500)]],
  // The whole packet stays under maxHttpBufferSize (1 MB): what is refused here is the field, not the size.
  ['a string just under 1 MB', [{ tripId: 'x'.repeat(ONE_MB - 1000) }]],
  ['a binary Buffer', [Buffer.from([0xde, 0xad, 0xbe, 0xef])]],
  ['a Buffer where a string belongs', [{ tripId: Buffer.from('t-corpus'), token: Buffer.from('x') }]],
  ['an id of illegal characters', [{ tripId: '../../etc', token: 7, typing: 'yes', changes: 'x' }]],
  ['an id over 128 characters', [{ tripId: 'a'.repeat(129), changes: [1] }]],
  ['an operator object as id', [{ tripId: { $ne: null }, token: { $gt: '' } }]],
  ['prototype-polluting keys only', [JSON.parse('{"__proto__":{"tripId":"t-corpus","token":"x","typing":true,"changes":{}}}')]],
  ['a function as the payload (callback first)', [() => undefined]],
];
const STRICT_EVENTS = ['trip:join', 'trip:leave', 'trip:update', 'trip:typing', 'auth:refresh'] as const;

describe.skipIf(!amqpUrl)('a bad-input corpus', () => {
  let t: TestBridge;
  let corpusSocket: TestSocket;
  const sockets: TestSocket[] = [];
  const track = (s: TestSocket) => (sockets.push(s), s);

  beforeAll(async () => {
    t = await startTestBridge(
      {},
      {
        socketLimits: { eventsPerSocket: LOOSE, eventsPerUser: LOOSE, typingPerSocket: LOOSE, handshakesPerAddress: LOOSE },
        testRouteLimit: LOOSE,
      },
    );
    corpusSocket = track((await connectClient(t.url, await signToken({ sub: 'corpus', trips: ['t-corpus'] }))).socket);
    expect(await request(corpusSocket, 'trip:join', { tripId: 't-corpus' })).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
  });

  describe('tokens', () => {
    it.each(TOKENS)('a token that is %s is refused at the handshake', async (_what, make, handshakeCode) => {
      const socket = track(createClient(t.url, { auth: { token: await make() } }));
      const err = await connectError(socket);
      expect(err.message).toBe('unauthorized');
      expect(err.data).toEqual({ code: handshakeCode, message: expect.any(String) });
    });

    it.each(TOKENS)('a token that is %s is refused by auth:refresh and keeps the socket', async (_what, make, _code, refreshCode) => {
      expect(await request(corpusSocket, 'auth:refresh', { token: await make() })).toEqual({
        ok: false,
        error: { code: refreshCode, message: expect.any(String) },
      });
      expect(corpusSocket.connected).toBe(true);
    });

    it('answers every bad Bearer token over HTTP with 401 unauthorized', async () => {
      for (const [what, make] of TOKENS) {
        const token = await make();
        if (typeof token !== 'string' || token === '') continue;
        const res = await fetch(`${t.url}/api/v1/socket/my-connections`, { headers: { Authorization: `Bearer ${token}` } });
        expect(res.status, what).toBe(401);
        expect(await res.json(), what).toMatchObject({ success: false, error: { code: 'unauthorized' } });
      }
    });
  });

  describe('client events', () => {
    for (const event of STRICT_EVENTS) {
      it.each(HOSTILE)(`${event} answers %s with invalid_payload`, async (_what, args) => {
        const ack = await raw(corpusSocket).timeout(10_000).emitWithAck(event, ...args);
        expect(ack).toEqual({ ok: false, error: { code: 'invalid_payload', message: expect.any(String) } });
      });
    }

    it.each(HOSTILE)('ping accepts %s', async (_what, args) => {
      expect(await raw(corpusSocket).timeout(10_000).emitWithAck('ping', ...args)).toMatchObject({ ok: true });
    });

    it.each([
      ['trip:join', { tripId: 't-corpus', since: { seq: -1, epoch: 'e' } }],
      ['trip:join', { tripId: 't-corpus', since: { seq: 1.5, epoch: '' } }],
      ['trip:update', { tripId: 't-corpus', changes: [1, 2] }],
      ['trip:update', { tripId: 't-corpus', changes: null }],
      ['trip:update', { tripId: 't-corpus' }],
      ['trip:typing', { tripId: 't-corpus', typing: 'yes' }],
      ['trip:typing', { tripId: 't-corpus', typing: 1 }],
      ['auth:refresh', { token: 'x'.repeat(8193) }],
    ])('%s answers a bad field (%j) with invalid_payload', async (event, payload) => {
      expect(await raw(corpusSocket).timeout(5000).emitWithAck(event, payload)).toMatchObject({
        ok: false,
        error: { code: 'invalid_payload' },
      });
    });

    it('ignores extra fields and prototype keys: they grant no trip and pollute nothing', async () => {
      const escalate = JSON.parse(
        '{"tripId":"t-secret","role":"admin","trips":["t-secret"],"__proto__":{"role":"admin","trips":["t-secret"],"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}',
      );
      expect(await request(corpusSocket, 'trip:join', escalate)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      const sneaky = JSON.parse('{"tripId":"t-corpus","changes":{"__proto__":{"polluted":"yes"},"ok":1}}');
      expect(await request(corpusSocket, 'trip:update', sneaky)).toMatchObject({ ok: true });
      expect(await request(corpusSocket, 'trip:join', { tripId: 't-corpus', extra: 'ignored' })).toMatchObject({ ok: true });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).role).toBeUndefined();
    });

    it('answers a failure without a callback, or with a callback that is not last, as request:error', async () => {
      const first = waitFor(corpusSocket, 'request:error');
      raw(corpusSocket).emit('trip:join', () => undefined, { tripId: 't-corpus' });
      expect(await first).toMatchObject({ event: 'trip:join', code: 'invalid_payload' });
      const second = waitFor(corpusSocket, 'request:error');
      raw(corpusSocket).emit('trip:leave', { tripId: 'bad id' }, 'not-a-callback');
      expect(await second).toMatchObject({ event: 'trip:leave', code: 'invalid_payload' });
    });

    it.each([['__proto__'], ['constructor'], ['hasOwnProperty'], ['x'.repeat(10_000)]])(
      'answers an unknown event named %s with invalid_payload',
      async (event) => {
        const ack = await raw(corpusSocket).timeout(5000).emitWithAck(event, { tripId: 't-corpus' });
        expect(ack).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: expect.stringMatching(/^unknown event/) } });
        expect(ack.error!.message.length).toBeLessThan(100);
      },
    );

    it('closes only the connection of a client that sends more than 1 MB, or a packet the parser refuses', async () => {
      const big = track((await connectClient(t.url, await signToken({ sub: 'oversize' }))).socket);
      const bigGone = new Promise<string>((resolve) => big.once('disconnect', resolve));
      raw(big).emit('ping', { blob: 'x'.repeat(ONE_MB + 10) });
      expect(await bigGone).toMatch(/transport (close|error)/);

      const garbled = track((await connectClient(t.url, await signToken({ sub: 'garbled' }))).socket);
      const garbledGone = new Promise<string>((resolve) => garbled.once('disconnect', resolve));
      (garbled.io.engine as unknown as { write(msg: string): void }).write('42["disconnect",{}]');
      expect(await garbledGone).toMatch(/transport (close|error)/);

      expect(corpusSocket.connected).toBe(true);
    });
  });

  describe('polling requests', () => {
    it('answers a method engine.io does not serve, on a live polling session, with 405 and leaves the session working', async () => {
      const token = await signToken({ sub: 'poller' });
      const open = await fetch(`${t.url}/socket.io/?EIO=4&transport=polling`, { headers: { Authorization: `Bearer ${token}` } });
      const sid = (JSON.parse((await open.text()).slice(1)) as { sid: string }).sid;
      const session = `${t.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      for (const method of ['PUT', 'DELETE', 'PATCH', 'HEAD']) {
        const res = await fetch(session, { method });
        expect([method, res.status]).toEqual([method, 405]);
        expect(res.headers.get('allow')).toBe('GET, POST, OPTIONS');
      }
      // The session is still there: a poll answers (the namespace's connect packet waits for it).
      const poll = await fetch(session, { method: 'POST', body: '40', headers: { 'Content-Type': 'text/plain' } });
      expect(poll.status).toBe(200);
    });
  });

  describe('HTTP bodies', () => {
    let adminToken: string;
    beforeAll(async () => {
      adminToken = await signToken({ sub: 'corpus-admin', role: 'admin', trips: ['t-corpus'] });
    });
    const post = (path: string, body: RequestInit["body"], contentType = 'application/json', token = adminToken) =>
      fetch(`${t.url}/api/v1/socket${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
        body,
      });

    const BAD_BODIES: Array<[string, RequestInit["body"], string?]> = [
      ['malformed JSON', '{"title":'],
      ['an empty body', ''],
      ['JSON null', 'null'],
      ['a JSON number', '42'],
      ['a JSON string', '"hello"'],
      ['an array', '[{"title":"x","message":"","tripId":"t-corpus","changes":{}}]'],
      ['bytes that are not UTF-8', new Uint8Array([0xff, 0xfe, 0x7b, 0x00])],
      ['a body over 64 KiB', JSON.stringify({ title: 'x', message: '', tripId: 't-corpus', changes: { pad: 'y'.repeat(70_000) } })],
      ['wrong types', '{"title":123,"message":[],"tripId":{"$ne":null},"changes":"x","type":"critical"}'],
      ['prototype keys only', '{"__proto__":{"title":"x","message":"","tripId":"t-corpus","changes":{}}}'],
    ];

    // Hono's JSON validator would read these as `{}`: they never reach the schema.
    const NOT_JSON: Array<[string, string, string]> = [
      ['valid JSON as text/plain', '{"title":"x","message":"","tripId":"t-corpus","changes":{}}', 'text/plain'],
      ['a form', 'title=x&message=y&tripId=t-corpus', 'application/x-www-form-urlencoded'],
      ['multipart', '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--\r\n', 'multipart/form-data; boundary=b'],
    ];

    for (const path of ['/test-notification', '/test-trip-update', '/broadcast']) {
      it.each(BAD_BODIES)(`POST ${path} answers %s with 400 invalid_payload`, async (_what, body, contentType) => {
        const res = await post(path, body, contentType);
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ success: false, error: { code: 'invalid_payload', message: expect.any(String) } });
      });

      it.each(NOT_JSON)(`POST ${path} answers %s with 415 unsupported_media_type`, async (_what, body, contentType) => {
        const res = await post(path, body, contentType);
        expect(res.status).toBe(415);
        expect(await res.json()).toEqual({ success: false, error: { code: 'unsupported_media_type', message: expect.any(String) } });
      });
    }

    it('ignores prototype keys in a valid body: no escalation, nothing polluted', async () => {
      const userToken = await signToken({ sub: 'corpus-user' });
      const ownNotification = '{"__proto__":{"userId":"victim","role":"admin"},"constructor":{"prototype":{"polluted":"yes"}},"title":"x","message":"","data":{"__proto__":{"polluted":"yes"}}}';
      const received = waitFor(track((await connectClient(t.url, userToken)).socket), 'notification');
      expect((await post('/test-notification', ownNotification, 'application/json', userToken)).status).toBe(202);
      expect(await received).toMatchObject({ title: 'x' });
      expect((await post('/broadcast', '{"__proto__":{"role":"admin"},"title":"x","message":""}', 'application/json', userToken)).status).toBe(403);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it('is still up after the corpus: /health is 200, a new client connects and receives a normal event', async () => {
    const health = await fetch(`${t.url}/api/v1/socket/health`);
    expect(health.status).toBe(200);
    const { socket } = await connectClient(t.url, await signToken({ sub: 'after-corpus', trips: ['t-after'] }));
    track(socket);
    expect(await request(socket, 'trip:join', { tripId: 't-after' })).toMatchObject({ ok: true });
    const received = waitFor(socket, 'trip:updated');
    await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId: 't-after', changes: { fine: true } });
    expect(await received).toMatchObject({ tripId: 't-after', seq: 1, data: { changes: { fine: true } } });
    expect(corpusSocket.connected).toBe(true);
  });
});
