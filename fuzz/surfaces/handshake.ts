import type { Rng } from '../../chaos/rng.js';
import { percentEncode, randomJson, randomString } from '../values.js';
import { randomToken, type FuzzToken, type TokenExpectation } from '../tokens.js';
import { connectFrame, decodeSio, RawSession } from '../wire.js';
import { brief, FUZZ_TRIPS, type CaseResult, type Surface } from './types.js';

type Place = 'auth' | 'header' | 'query' | 'cookie';

interface Placed {
  place: Place;
  token: FuzzToken;
  /** False when the wrapping is one the contract does not read (`Basic …`, another cookie): the token is not there. */
  readable: boolean;
  text: string;
}

/** Puts a token in one of the four places, sometimes wrapped in a way the bridge must not read. */
function place(rng: Rng, where: Place, token: FuzzToken): Placed {
  const t = token.token;
  switch (where) {
    case 'auth':
      return { place: where, token, readable: true, text: t };
    case 'header': {
      const [text, readable] = rng.pick<[string, boolean]>([
        [`Bearer ${t}`, true],
        [`bearer ${t}`, true],
        [`Bearer   ${t}  `, true],
        [`Basic ${t}`, false],
        [t, false],
        [`Bearer ${t} extra`, false],
      ]);
      return { place: where, token, readable: readable && !/\s/.test(t), text };
    }
    case 'query':
      return { place: where, token, readable: true, text: percentEncode(t) };
    case 'cookie': {
      const [text, readable] = rng.pick<[string, boolean]>([
        [`access_token=${percentEncode(t)}`, true],
        [`theme=dark; access_token=${percentEncode(t)}`, true],
        [`access_token_x=${percentEncode(t)}`, false],
        [`;;==;access_token`, false],
      ]);
      return { place: where, token, readable, text };
    }
  }
}

/** The contract's order: `auth.token`, the Bearer header, the `token` query parameter, then the cookie. */
function expectation(placed: Placed[], authShape: 'object' | 'other'): TokenExpectation {
  const order: Place[] = ['auth', 'header', 'query', 'cookie'];
  for (const where of order) {
    const p = placed.find((x) => x.place === where);
    if (!p) continue;
    if (where === 'auth' && authShape !== 'object') continue;
    // An empty token in a wrapping (`Bearer  extra`) may leave another word where the token was.
    if (where === 'header' && p.token.token === '') return 'unknown';
    if (!p.readable) {
      if (where === 'header' || where === 'cookie') continue;
    }
    // An empty string counts as no token in every place.
    if (p.token.token === '') continue;
    if (where !== 'auth' && /[^\x21-\x7e]/.test(p.token.token)) return 'unknown';
    return p.token.expect;
  }
  return 'token_missing';
}

/**
 * Handshakes with garbage, expired, `alg: none`, wrong-key, wrong-claim and huge tokens in `auth`, the
 * Authorization header, the cookie and the query, sometimes several at once, with odd `auth` shapes,
 * namespaces and Origins. The answer must be the one the contract gives for the token that counts.
 */
export const handshakeSurface: Surface = {
  name: 'handshake',
  weight: 3,
  async run(ctx, rng, caseNo): Promise<CaseResult> {
    const sub = `fz-h${caseNo}`;
    const trips = FUZZ_TRIPS.slice(0, rng.int(0, FUZZ_TRIPS.length));
    const wheres = rng.shuffle<Place>(['auth', 'header', 'query', 'cookie']).slice(0, rng.int(1, 3));
    const placed: Placed[] = [];
    for (const where of wheres) placed.push(place(rng, where, await randomToken(rng, sub, trips)));
    const authShape = rng.chance(0.9) ? 'object' : 'other';
    const authPlaced = placed.find((p) => p.place === 'auth');
    const auth = authShape === 'object'
      ? { ...(rng.chance(0.2) ? { notificationsSince: randomJson(rng, 2) } : {}), ...(authPlaced ? { token: authPlaced.text } : {}) }
      : rng.pick<unknown>([randomString(rng), [authPlaced?.text], 42, null, { token: 12345 }]);
    const nsp = rng.chance(0.1) ? rng.pick(['/admin', '/nope', `/${randomString(rng, 6)}`]) : '/';
    const origin = rng.chance(0.15) ? rng.pick(['http://evil.example', 'http://localhost:5173', 'null', ctx.url, 'ws://127.0.0.1:1']) : undefined;
    const query = placed.find((p) => p.place === 'query');
    const header = placed.find((p) => p.place === 'header');
    const cookie = placed.find((p) => p.place === 'cookie');
    const headers: Record<string, string> = {
      ...(header ? { authorization: header.text } : {}),
      ...(cookie ? { cookie: cookie.text } : {}),
      ...(origin ? { origin } : {}),
    };
    // Socket.IO's parser accepts only an object as CONNECT data: anything else closes the connection,
    // except digits, which it reads as a packet id (`4042`: a CONNECT without data).
    const connectable = (typeof auth === 'object' && auth !== null && !Array.isArray(auth)) || (typeof auth === 'number' && Number.isSafeInteger(auth) && auth >= 0);
    const expect = !connectable ? 'closed' : nsp !== '/' ? 'refused' : expectation(placed, authShape === 'object' ? 'object' : 'other');
    const input = `handshake ${placed.map((p) => `${p.place}:${p.token.kind}`).join(',')} auth=${brief(auth, 120)} nsp=${nsp} origin=${origin ?? '-'} expect=${expect}`;

    const problems: string[] = [];
    let session: RawSession;
    try {
      session = await RawSession.open(ctx.url, {
        query: `EIO=4&transport=websocket${query ? `&token=${query.text}` : ''}`,
        headers,
        timeoutMs: 5_000,
      });
    } catch (err) {
      const message = (err as Error).message;
      // A foreign Origin is refused at the upgrade; the ws client refuses some header values before sending.
      const foreign = origin !== undefined && origin !== 'http://localhost:5173' && origin !== ctx.url;
      // Node refuses request heads over 16 KiB (431) before the bridge sees them.
      const oversize = JSON.stringify(headers).length + (query?.text.length ?? 0) > 8_000 && message.includes('431');
      if (!foreign && !oversize && !/Invalid character|header/i.test(message)) problems.push(`upgrade failed: ${message}`);
      return { input, problems };
    }
    try {
      await session.waitFor((f) => typeof f === 'string' && f.startsWith('0{'), 3_000);
      session.send(authShape === 'object' || auth !== undefined ? connectFrame(auth, nsp) : connectFrame(undefined, nsp));
      const answer = await session.waitFor((f) => { const p = decodeSio(f); return p?.type === 0 || p?.type === 4; }, 8_000);
      const packet = answer === undefined ? undefined : decodeSio(answer);
      if (!packet) {
        if (session.open && expect !== 'closed') problems.push(`no answer to CONNECT within 8 s (expected ${expect})`);
        else if (session.open) problems.push('CONNECT with non-object data left the connection open');
        else if (expect === 'accept') problems.push(`connection closed without an answer to CONNECT (code ${session.closeCode})`);
        return { input, problems };
      }
      const code = (packet.data as { data?: { code?: unknown } } | undefined)?.data?.code;
      if (expect === 'closed') problems.push(`CONNECT with non-object data was answered: ${brief(answer)}`);
      else if (packet.type === 0) {
        if (expect !== 'accept' && expect !== 'unknown') problems.push(`AUTH BYPASS: connected although the token should give ${expect}`);
        const connected = await session.waitFor((f) => typeof f === 'string' && f.startsWith('42["connected"'), 3_000);
        if (!connected) problems.push('connected, but no `connected` event');
        else if (!String(connected).includes(`"userId":"${sub}"`)) problems.push(`connected as someone else: ${brief(connected)}`);
      } else if (nsp === '/') {
        const message = (packet.data as { message?: unknown } | undefined)?.message;
        if (code === 'rate_limited') return { input, problems };
        if (message !== 'unauthorized') problems.push(`connect_error message ${brief(message)}, not "unauthorized"`);
        if (expect === 'accept') problems.push(`refused a valid token: ${brief(packet.data)}`);
        else if (expect !== 'unknown' && code !== expect) problems.push(`refused with ${brief(code)}, expected ${expect}`);
        else if (!['token_missing', 'token_invalid', 'token_expired'].includes(String(code))) problems.push(`refused with undocumented code ${brief(code)}`);
      }
    } finally {
      await session.close();
    }
    return { input, problems };
  },
};
