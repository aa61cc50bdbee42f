import type { Rng } from '../../chaos/rng.js';
import { mutateJson } from '../mutate.js';
import { randomToken, userToken } from '../tokens.js';
import { deepJsonText, randomJson, randomString } from '../values.js';
import { connectFrame, decodeSio, eventFrame, RawSession } from '../wire.js';
import { ACK_CODES, brief, FUZZ_TRIPS, type CaseResult, type Surface } from './types.js';

/** Names a client might send besides the contract's: reserved, prototype keys, near misses, random. */
const ODD_NAMES = ['error', 'connect', 'disconnect', 'disconnecting', 'newListener', '__proto__', 'constructor', 'toString', 'trip:Join', 'trip:', 'pong', 'connected', 'trip:updated', ''];

/** A payload the contract accepts for `event` (before mutation). */
async function sample(rng: Rng, event: string, sub: string): Promise<unknown> {
  const tripId = rng.chance(0.8) ? rng.pick(FUZZ_TRIPS) : randomString(rng, 20);
  switch (event) {
    case 'trip:join':
      return rng.chance(0.5) ? { tripId } : { tripId, since: { seq: rng.int(0, 50), epoch: randomString(rng, 12) } };
    case 'trip:leave':
      return { tripId };
    case 'trip:update':
      return { tripId, changes: { name: randomString(rng, 20), budget: rng.int(0, 9999) } };
    case 'trip:typing':
      return { tripId, typing: rng.chance(0.5) };
    case 'auth:refresh':
      return { token: (await randomToken(rng, rng.chance(0.8) ? sub : `${sub}-other`, FUZZ_TRIPS.slice(0, 2))).token };
    default:
      return randomJson(rng, 2);
  }
}

interface Sent {
  event: string;
  ackId?: number;
  frame: string;
}

/** Checks one answer (an ack's first argument or a `request:error` payload) against the contract. */
function checkAnswer(what: string, answer: unknown, problems: string[]): void {
  if (typeof answer !== 'object' || answer === null || typeof (answer as { ok?: unknown }).ok !== 'boolean') {
    problems.push(`${what}: not { ok, ... }: ${brief(answer)}`);
    return;
  }
  const { ok, error } = answer as { ok: boolean; error?: { code?: unknown; message?: unknown } };
  if (ok) return;
  const code = String(error?.code);
  if (!ACK_CODES.has(code) || typeof error?.message !== 'string') problems.push(`${what}: undocumented error ${brief(error)}`);
  if (code === 'internal') problems.push(`${what}: internal error on client input: ${brief(error)}`);
}

/**
 * A well-behaved connection, then the contract's client events (and invented ones) with mutated
 * payloads, extra arguments, with and without acks, plain or as binary events. Every ack that comes
 * back must be `{ ok: true, … }` or a documented error; `internal` is a finding.
 */
export const clientEventsSurface: Surface = {
  name: 'client-events',
  weight: 5,
  async run(ctx, rng, caseNo): Promise<CaseResult> {
    const sub = `fz-c${caseNo}`;
    const trips = FUZZ_TRIPS.slice(0, rng.int(0, FUZZ_TRIPS.length));
    const role = rng.chance(0.1) ? ('admin' as const) : undefined;
    const sent: Sent[] = [];
    let nextAck = rng.int(0, 1_000);
    for (let n = rng.int(1, 8); n > 0; n--) {
      const event = rng.chance(0.85) ? rng.pick(['trip:join', 'trip:join', 'trip:leave', 'trip:update', 'trip:typing', 'auth:refresh', 'ping']) : rng.chance(0.5) ? rng.pick(ODD_NAMES) : randomString(rng, 30);
      let payload = await sample(rng, event, sub);
      if (rng.chance(0.6)) payload = mutateJson(rng, payload);
      const args: unknown[] = [event, payload];
      if (rng.chance(0.1)) args.push(randomJson(rng, 2));
      if (rng.chance(0.05)) args.splice(1, 1);
      const ackId = rng.chance(0.7) ? nextAck++ : undefined;
      // Now and then the payload is JSON nested deeper than any serializer of ours would write.
      const frame = rng.chance(0.05) ? `42${ackId ?? ''}[${JSON.stringify(event)},${deepJsonText(rng, rng.int(5_000, 100_000))}]` : eventFrame(args, ackId);
      sent.push({ event, ...(ackId === undefined ? {} : { ackId }), frame });
    }
    const binary = rng.chance(0.1);
    const input = `client-events as ${sub} trips=${trips.join(',') || '-'}${role ? ' admin' : ''}${binary ? ' (binary)' : ''}: ${sent.map((s) => brief(s.frame, 160)).join(' | ')}`;
    const problems: string[] = [];
    let session: RawSession;
    try {
      session = await RawSession.open(ctx.url);
    } catch (err) {
      return { input, problems: [`websocket could not open: ${(err as Error).message}`] };
    }
    try {
      await session.waitFor((f) => typeof f === 'string' && f.startsWith('0{'), 3_000);
      session.send(connectFrame({ token: await userToken(sub, trips, role) }));
      if (!(await session.waitFor((f) => typeof f === 'string' && f.startsWith('42["connected"'), 5_000))) {
        if (session.open) problems.push('a valid token got no `connected` within 5 s');
        return { input, problems };
      }
      const from = session.frames.length;
      for (const s of sent) {
        if (binary && s.frame.startsWith('42')) {
          // The same event as a binary event whose payload is one attachment.
          session.send(`451-${s.frame.slice(2).replace(/^(\d*)\[("(?:[^"\\]|\\.)*"),[\s\S]*\]$/, '$1[$2,{"_placeholder":true,"num":0}]')}`);
          session.send(Buffer.from(JSON.stringify(s)));
        } else session.send(s.frame);
      }
      // Every ack of a well-formed packet comes back (unless the server cut the connection for cause).
      const acks = sent.filter((s) => s.ackId !== undefined);
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && session.open) {
        const answered = new Set(session.frames.slice(from).map(decodeSio).filter((p) => p?.type === 3).map((p) => p!.id));
        if (acks.every((a) => answered.has(a.ackId))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await session.settle(50);
      const received = session.frames.slice(from).map(decodeSio);
      const answered = new Set<number>();
      for (const packet of received) {
        if (!packet) continue;
        if (packet.type === 3 && packet.id !== undefined) {
          answered.add(packet.id);
          checkAnswer(`ack ${packet.id} (${sent.find((s) => s.ackId === packet.id)?.event ?? '?'})`, (packet.data as unknown[])[0], problems);
        }
        if (packet.type === 2 && Array.isArray(packet.data) && packet.data[0] === 'request:error') {
          const payload = packet.data[1] as { code?: unknown; message?: unknown };
          checkAnswer(`request:error`, { ok: false, error: payload }, problems);
        }
      }
      const missing = acks.filter((a) => !answered.has(a.ackId!));
      if (session.open && !binary && missing.length > 0) problems.push(`no ack within 5 s for ${missing.map((m) => `${m.event}#${m.ackId}`).join(', ')}`);
    } finally {
      await session.close();
    }
    return { input, problems };
  },
};
