import type { Rng } from '../../chaos/rng.js';
import { ErrorResponse } from '../../contracts/index.js';
import { mutateBytes, mutateJson, serialize } from '../mutate.js';
import { randomToken, userToken, type TokenExpectation } from '../tokens.js';
import { deepJsonText, percentEncode, randomBytes, randomJson, randomString } from '../values.js';
import { brief, FUZZ_TRIPS, type CaseResult, type Surface } from './types.js';

interface Route {
  path: string;
  /** 'anyone', 'user' or 'admin': who the contract lets in. */
  who: 'anyone' | 'user' | 'admin';
  sample?: (rng: Rng) => unknown;
}

const notification = (rng: Rng) => ({ type: rng.pick(['info', 'success', 'warning', 'error']), title: randomString(rng, 30) || 't', message: randomString(rng, 60), data: { k: 1 } });

const ROUTES: Route[] = [
  { path: '/health', who: 'anyone' },
  { path: '/stats', who: 'admin' },
  { path: '/rooms', who: 'admin' },
  { path: '/my-connections', who: 'user' },
  { path: '/dead-letters', who: 'admin' },
  // Replay moves dead letters back to the exchange: the fuzzer never sends it an admin token (see `token`).
  { path: '/dead-letters/replay', who: 'admin', sample: (rng) => ({ limit: rng.int(1, 1000) }) },
  { path: '/test-notification', who: 'user', sample: (rng) => ({ ...notification(rng), ...(rng.chance(0.3) ? { userId: `fz-x${rng.int(0, 99)}` } : {}) }) },
  { path: '/test-trip-update', who: 'user', sample: (rng) => ({ tripId: rng.pick(FUZZ_TRIPS), changes: { name: randomString(rng, 20) } }) },
  { path: '/broadcast', who: 'user', sample: notification },
];

/** Path variants the router must not misread: trailing slashes, case, encodings, traversal. */
function pathVariant(rng: Rng, path: string): string {
  return rng.pick([
    path,
    path,
    path,
    `${path}/`,
    path.toUpperCase(),
    path.replace('/', '//'),
    `${path}/${percentEncode(randomString(rng, 10))}`,
    `${path}%00`,
    `/../api/v1/socket${path}`,
    `${path}?limit=${percentEncode(String(randomJson(rng, 0)))}`,
    `/${percentEncode(randomString(rng, 12))}`,
  ]);
}

/** A body: the route's sample (mutated or not), random JSON, bytes, deep or oversized JSON, or nothing. */
function body(rng: Rng, route: Route): Buffer | string | undefined {
  const base = route.sample?.(rng) ?? randomJson(rng, 2);
  return rng.pick<() => Buffer | string | undefined>([
    () => serialize(rng, base),
    () => serialize(rng, mutateJson(rng, base)),
    () => serialize(rng, mutateJson(rng, base)),
    () => mutateBytes(rng, Buffer.from(JSON.stringify(base))),
    () => randomBytes(rng, rng.int(0, 2_000)),
    () => deepJsonText(rng, rng.int(100, 30_000)),
    () => JSON.stringify({ ...(base as object), pad: 'x'.repeat(rng.int(60_000, 80_000)) }),
    () => new URLSearchParams({ title: 'a', message: 'b' }).toString(),
    () => undefined,
  ])();
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/cloudevents+json', ''];

/** A credential for the request: none, a valid user or admin, or a fuzzed token in the header, query or cookie. */
async function credential(rng: Rng, sub: string, route: Route): Promise<{ headers: Record<string, string>; query: string; expect: TokenExpectation | 'admin'; kind: string }> {
  const roll = rng.int(0, 9);
  if (roll <= 1) return { headers: {}, query: '', expect: 'token_missing', kind: 'none' };
  if (roll <= 4 || (roll <= 6 && route.path === '/dead-letters/replay')) return { headers: { authorization: `Bearer ${await userToken(sub, FUZZ_TRIPS.slice(0, 2))}` }, query: '', expect: 'accept', kind: 'user' };
  if (roll <= 6) return { headers: { authorization: `Bearer ${await userToken(sub, [], 'admin')}` }, query: '', expect: 'admin', kind: 'admin' };
  const token = await randomToken(rng, sub, FUZZ_TRIPS.slice(0, 1));
  // Admin tokens (and mutated ones that might be) stay away from the replay route.
  if (route.path === '/dead-letters/replay' && (token.kind === 'admin' || token.expect === 'unknown')) return { headers: {}, query: '', expect: 'token_missing', kind: 'none' };
  const expect = token.kind === 'admin' ? 'admin' : token.expect;
  const where = rng.pick(['header', 'query', 'cookie']);
  if (where === 'query') return { headers: {}, query: `token=${percentEncode(token.token)}`, expect: token.token === '' ? 'token_missing' : expect, kind: `query:${token.kind}` };
  if (/[^\x21-\x7e]/.test(token.token)) return { headers: {}, query: '', expect: 'token_missing', kind: 'none' };
  if (where === 'cookie') return { headers: { cookie: `access_token=${token.token}` }, query: '', expect: token.token === '' ? 'token_missing' : 'unknown', kind: `cookie:${token.kind}` };
  return { headers: { authorization: `Bearer ${token.token}` }, query: '', expect: token.token === '' ? 'token_missing' : expect, kind: `header:${token.kind}` };
}

/**
 * Every route under /api/v1/socket (and /metrics, and paths that are not routes) with random methods,
 * content types, bodies and credentials. Failures must be the documented JSON envelope with a 4xx
 * status; no 5xx, no `internal`, and nothing that needs a token answered 2xx without a good one.
 */
export const httpSurface: Surface = {
  name: 'http',
  weight: 3,
  async run(ctx, rng, caseNo): Promise<CaseResult> {
    const route = rng.chance(0.05) ? { path: '/metrics', who: 'anyone' as const } : rng.pick(ROUTES);
    const method = rng.chance(0.6) ? (route.sample ? 'POST' : 'GET') : rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
    const path = pathVariant(rng, route.path);
    const full = route.path === '/metrics' ? path : `/api/v1/socket${path}`;
    const cred = await credential(rng, `fz-w${caseNo % 200}`, route);
    const payload = method === 'GET' || method === 'HEAD' ? undefined : body(rng, route);
    const contentType = rng.pick(CONTENT_TYPES);
    const origin = rng.chance(0.1) ? rng.pick(['http://evil.example', 'http://localhost:5173']) : undefined;
    const url = `${ctx.url}${full}${cred.query ? `${full.includes('?') ? '&' : '?'}${cred.query}` : ''}`;
    const input = `http ${method} ${full} auth=${cred.kind} ct=${contentType || '-'} body=${brief(payload, 160)}`;
    const problems: string[] = [];
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...cred.headers, ...(contentType ? { 'content-type': contentType } : {}), ...(origin ? { origin } : {}) },
        ...(payload === undefined ? {} : { body: payload }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      return { input, problems: [`request failed: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`] };
    }
    const text = await res.text();
    if (res.status >= 500) problems.push(`HTTP ${res.status}: ${brief(text)}`);
    const exact = path === route.path;
    if (res.status < 300 && exact && (method === 'GET' || method === 'POST')) {
      if (route.who !== 'anyone' && cred.expect !== 'accept' && cred.expect !== 'admin' && cred.expect !== 'unknown') problems.push(`AUTH BYPASS: ${res.status} with ${cred.kind} (${cred.expect})`);
      if (route.who === 'admin' && cred.expect === 'accept') problems.push(`ADMIN BYPASS: ${res.status} for a plain user`);
    }
    // 431: Node refuses an oversized request head before any route (or the bridge) sees it.
    if (res.status >= 400 && res.status !== 431 && method !== 'HEAD' && full.startsWith('/api/v1/socket')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const envelope = ErrorResponse.safeParse(parsed);
      if (!envelope.success) problems.push(`HTTP ${res.status} without the error envelope: ${brief(text)}`);
      else if (envelope.data.error.code === 'internal') problems.push(`internal error on client input: ${brief(text)}`);
    }
    return { input, problems };
  },
};
