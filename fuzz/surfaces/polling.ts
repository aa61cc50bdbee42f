import type { Rng } from '../../chaos/rng.js';
import { mutateBytes } from '../mutate.js';
import { userToken } from '../tokens.js';
import { percentEncode, randomBytes, randomString } from '../values.js';
import { connectFrame } from '../wire.js';
import { brief, type CaseResult, type Surface } from './types.js';

interface Request {
  method: string;
  query: string;
  body?: Buffer | string;
  headers: Record<string, string>;
}

const eio = (rng: Rng) => rng.pick(['4', '4', '4', '3', '5', '', 'abc', '4.0', '-1', '99999999999999999999', '4&EIO=3']);
const transport = (rng: Rng) => rng.pick(['polling', 'polling', 'websocket', 'webtransport', '', 'foo', 'polling&transport=websocket']);

/** A sid: the real one, a random one, one of the wrong shape, or none. */
function sid(rng: Rng, real: string | undefined): string {
  return rng.pick([real ?? '', real ?? 'x', randomString(rng, 20), 'A'.repeat(20), percentEncode(randomString(rng, 30)), '']);
}

/** A polling payload: engine.io packets joined by the record separator, mutated or raw bytes. */
function payload(rng: Rng, token: string): Buffer | string {
  const packets = [connectFrame({ token }), '42["ping"]', '2', '3', '6', '1', '5', `4${randomString(rng, 30)}`];
  const text = Array.from({ length: rng.int(1, 5) }, () => rng.pick(packets)).join('\x1e');
  return rng.pick([() => text, () => mutateBytes(rng, Buffer.from(text)), () => randomBytes(rng, rng.int(0, 500)), () => `b${Buffer.from(randomString(rng)).toString('base64')}`])();
}

/** Sends one request; resolves with its status, 0 when it is still open after `timeoutMs` (a long poll), -1 when cut. */
async function send(url: string, r: Request, timeoutMs: number): Promise<number> {
  try {
    const res = await fetch(`${url}/socket.io/?${r.query}`, {
      method: r.method,
      headers: r.headers,
      ...(r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD' ? { body: r.body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  } catch (err) {
    // -1: the server closed the connection without an answer, which refusing a bad request may do.
    return (err as Error).name === 'TimeoutError' ? 0 : -1;
  }
}

/**
 * Raw HTTP long-polling: sometimes a real handshake first (to have a live sid), then requests with
 * bad or real sids, EIO versions and transports, random methods, content types and payloads.
 */
export const pollingSurface: Surface = {
  name: 'polling',
  weight: 2,
  async run(ctx, rng, caseNo): Promise<CaseResult> {
    const problems: string[] = [];
    const sent: string[] = [];
    const notes: string[] = [];
    let real: string | undefined;
    if (rng.chance(0.6)) {
      const res = await fetch(`${ctx.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(3_000) });
      const text = await res.text();
      real = /"sid":"([^"]+)"/.exec(text)?.[1];
      if (res.status !== 200 || !real) problems.push(`a well-formed polling handshake got HTTP ${res.status}: ${brief(text)}`);
    }
    const token = await userToken(`fz-p${caseNo}`, ['fz-t2']);
    for (let n = rng.int(1, 5); n > 0; n--) {
      const r: Request = {
        method: rng.pick(['GET', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD']),
        query: `EIO=${eio(rng)}&transport=${transport(rng)}&sid=${sid(rng, real)}&t=${rng.int(0, 1e9).toString(36)}`,
        body: payload(rng, token),
        headers: {
          'content-type': rng.pick(['text/plain;charset=UTF-8', 'application/octet-stream', 'application/json', 'multipart/form-data', '']),
          ...(rng.chance(0.2) ? { origin: rng.pick(['http://evil.example', 'http://localhost:5173', 'null', ctx.url]) } : {}),
        },
      };
      sent.push(`${r.method} ?${r.query} ${brief(r.body, 80)}`);
      const status = await send(ctx.url, r, 1_500);
      // engine.io itself answers 500 to a method other than GET/POST on a live session: its own quirk, noted.
      if (status >= 500 && !['GET', 'POST', 'OPTIONS'].includes(r.method) && real && r.query.includes(`sid=${real}&`)) notes.push(`engine.io answers HTTP ${status} to ${r.method} on a live polling session`);
      else if (status >= 500) problems.push(`${r.method} ?${r.query}: HTTP ${status}`);
    }
    if (real) await send(ctx.url, { method: 'POST', query: `EIO=4&transport=polling&sid=${real}`, body: '1', headers: {} }, 1_500).catch(() => 0);
    return { input: `polling: ${sent.join(' | ')}`, problems, notes };
  },
};
