import { describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/verify-token.js';
import { createHttpApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { MemoryMembershipStore } from '../../src/state/memory-stores.js';
import { fakeDeadLetters } from '../helpers/fake-dead-letters.js';
import { defaultApiDocuments } from '../helpers/api-documents.js';
import { emptySocketDirectory } from '../helpers/fake-directory.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';

const FRONTEND = 'http://localhost:5173';
const EVIL = 'https://evil.example';
// What app.request() uses as the request's URL, so the server's own origin here.
const OWN = 'http://localhost';
const REPLAY = '/api/v1/socket/dead-letters/replay';
const NOTIFY = '/api/v1/socket/test-notification';

function setup() {
  const dead = fakeDeadLetters();
  const published: unknown[] = [];
  const metrics = new Metrics(() => 0);
  const app = createHttpApp({
    sockets: emptySocketDirectory(),
    brokerConnected: () => true,
    uptimeSeconds: () => 1,
    publisher: {
      publish: async (type: string, data: unknown) => {
        published.push({ type, data });
        return { eventId: 'e1' };
      },
    },
    ...dead,
    membership: new MemoryMembershipStore(),
    verifyToken: createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER, audience: TEST_AUDIENCE }),
    cookieName: 'access_token',
    corsOrigins: ['http://localhost:3000', FRONTEND],
    enableTestEndpoints: true,
    apiDocuments: defaultApiDocuments(),
    registry: metrics.registry,
    logger: createLogger('silent'),
  });
  const replayed = () => dead.asked.filter(([what]) => what === 'replay');
  return { app, replayed, published };
}

const admin = () => signToken({ sub: 'admin-1', role: 'admin' });
const cookie = async () => ({ Cookie: `theme=dark; access_token=${await admin()}` });
const bearer = async () => ({ Authorization: `Bearer ${await admin()}` });
const JSON_TYPE = { 'Content-Type': 'application/json' };

async function errorOf(res: Response) {
  return ((await res.json()) as { success: boolean; error?: { code: string; message: string } });
}

describe('cross-site requests with the token cookie', () => {
  it("refuses the cross-site form post (text/plain, a foreign Origin, the admin's cookie) with 403 forbidden, and replays nothing", async () => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, {
      method: 'POST',
      headers: { ...(await cookie()), Origin: EVIL, 'Content-Type': 'text/plain' },
      body: '{"limit":100}',
    });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toEqual({ success: false, error: { code: 'forbidden', message: expect.stringMatching(/cross-site/) } });
    expect(replayed()).toEqual([]);
  });

  it.each<[string, Record<string, string>]>([
    ['a foreign Origin with a JSON body', { Origin: EVIL }],
    ['Origin "null" (a sandboxed frame, a redirect)', { Origin: 'null' }],
    ['a foreign Origin that claims Sec-Fetch-Site same-origin', { Origin: EVIL, 'Sec-Fetch-Site': 'same-origin' }],
    ['no Origin and Sec-Fetch-Site cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['no Origin and Sec-Fetch-Site same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site' }],
    ['neither Origin nor Sec-Fetch-Site (nothing shows it is same-site)', {}],
    ['an Origin that only starts like an allowed one', { Origin: `${FRONTEND}.evil.example` }],
  ])('refuses %s with 403', async (_what, headers) => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, { method: 'POST', headers: { ...(await cookie()), ...JSON_TYPE, ...headers }, body: '{}' });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).error?.code).toBe('forbidden');
    expect(replayed()).toEqual([]);
  });

  it.each<[string, Record<string, string>]>([
    ['an Origin in FRONTEND_URLS', { Origin: FRONTEND }],
    ["the server's own origin", { Origin: OWN }],
    ['Sec-Fetch-Site same-origin without Origin', { 'Sec-Fetch-Site': 'same-origin' }],
  ])('accepts %s', async (_what, headers) => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, { method: 'POST', headers: { ...(await cookie()), ...JSON_TYPE, ...headers }, body: '{"limit":5}' });
    expect(res.status).toBe(200);
    expect(replayed()).toEqual([['replay', 5]]);
  });

  it('leaves safe methods alone: a cross-site GET with the cookie is answered', async () => {
    const res = await setup().app.request('/api/v1/socket/rooms', { headers: { ...(await cookie()), Origin: EVIL } });
    expect(res.status).toBe(200);
  });

  it('applies to every state-changing route, not only the admin ones', async () => {
    const { app, published } = setup();
    const res = await app.request(NOTIFY, {
      method: 'POST',
      headers: { Cookie: `access_token=${await signToken({ sub: 'u1' })}`, Origin: EVIL, ...JSON_TYPE },
      body: JSON.stringify({ title: 'Hi', message: 'x' }),
    });
    expect(res.status).toBe(403);
    expect(published).toEqual([]);
  });
});

describe('requests with a Bearer header', () => {
  it('are not subject to the cross-site rule (the header is no ambient credential)', async () => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, { method: 'POST', headers: { ...(await bearer()), ...(await cookie()), Origin: EVIL, ...JSON_TYPE }, body: '{"limit":2}' });
    expect(res.status).toBe(200);
    expect(replayed()).toEqual([['replay', 2]]);
  });

  it('without a token at all is still 401', async () => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, { method: 'POST', headers: { Origin: EVIL, ...JSON_TYPE }, body: '{}' });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).error?.code).toBe('unauthorized');
    expect(replayed()).toEqual([]);
  });

  it('with only a foreign cookie (not the token cookie) is 401, not 403', async () => {
    const res = await setup().app.request(REPLAY, { method: 'POST', headers: { Cookie: 'theme=dark', Origin: EVIL, ...JSON_TYPE }, body: '{}' });
    expect(res.status).toBe(401);
  });
});

describe('bodies that are not JSON', () => {
  it.each([
    ['text/plain', '{"limit":1}'],
    ['application/x-www-form-urlencoded', 'limit=1'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="limit"\r\n\r\n1\r\n--x--\r\n'],
    ['application/jsonp', '{"limit":1}'],
  ])('are refused with 415 unsupported_media_type (Content-Type %s), and replay nothing', async (type, body) => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, { method: 'POST', headers: { ...(await bearer()), 'Content-Type': type }, body });
    expect(res.status).toBe(415);
    expect(await errorOf(res)).toEqual({ success: false, error: { code: 'unsupported_media_type', message: expect.stringMatching(/application\/json/) } });
    expect(replayed()).toEqual([]);
  });

  it('are refused from the cookie of a same-site page too', async () => {
    const { app, replayed } = setup();
    const res = await app.request(REPLAY, { method: 'POST', headers: { ...(await cookie()), Origin: FRONTEND, 'Content-Type': 'text/plain' }, body: '{}' });
    expect(res.status).toBe(415);
    expect(replayed()).toEqual([]);
  });

  it('include a route that takes a body receiving no Content-Type at all', async () => {
    const { app, replayed, published } = setup();
    const noType = await app.request(REPLAY, { method: 'POST', headers: await bearer() });
    expect(noType.status).toBe(415);
    const notify = await app.request(NOTIFY, { method: 'POST', headers: await bearer(), body: new Blob(['{"title":"t","message":"m"}']) });
    expect(notify.status).toBe(415);
    expect(replayed()).toEqual([]);
    expect(published).toEqual([]);
  });

  it('include a non-JSON body sent with any state-changing method, whatever the route', async () => {
    const res = await setup().app.request('/api/v1/socket/health', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
    expect(res.status).toBe(415);
  });

  it('leave JSON with parameters or a +json suffix alone', async () => {
    const { app, replayed } = setup();
    for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json']) {
      const res = await app.request(REPLAY, { method: 'POST', headers: { ...(await bearer()), 'Content-Type': type }, body: '{"limit":3}' });
      expect(res.status, type).toBe(200);
    }
    expect(replayed()).toHaveLength(3);
  });
});
