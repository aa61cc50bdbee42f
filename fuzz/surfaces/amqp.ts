import type { Rng } from '../../chaos/rng.js';
import { EVENT_TYPES } from '../../contracts/index.js';
import { mutateBytes, mutateJson, serialize } from '../mutate.js';
import { deepJsonText, randomBytes, randomJson, randomString } from '../values.js';
import { brief, FUZZ_TRIPS, type CaseResult, type Surface } from './types.js';

/** A `data` object the contract accepts for `type`. */
function sampleData(rng: Rng, type: string): unknown {
  const tripId = rng.chance(0.7) ? `fz-a${rng.int(0, 30)}` : rng.pick(FUZZ_TRIPS);
  const notification = { type: 'info', title: randomString(rng, 20) || 't', message: randomString(rng, 40) };
  switch (type) {
    case 'trip.created':
      return { tripId, trip: { name: randomString(rng, 20) } };
    case 'trip.updated':
      return { tripId, changes: { name: randomString(rng, 20) }, updatedBy: 'fz-u1' };
    case 'trip.deleted':
      return { tripId };
    case 'trip.member.added':
    case 'trip.member.removed':
      return { tripId, userId: `fz-u${rng.int(0, 50)}` };
    case 'trip.activity':
      return { tripId, kind: 'vote', payload: { option: rng.int(0, 5) } };
    case 'notification.created':
      return { userId: `fz-u${rng.int(0, 50)}`, notification };
    default:
      return { notification };
  }
}

/** A CloudEvents envelope the bridge would accept. */
function sampleEvent(rng: Rng, caseNo: number, seed: number): { type: string; event: Record<string, unknown> } {
  const type = rng.pick(EVENT_TYPES);
  return {
    type,
    event: { specversion: '1.0', id: `fz-${seed}-${caseNo}`, source: 'fuzz', type, time: new Date().toISOString(), data: sampleData(rng, type) },
  };
}

/** Routing keys: the event's own type, other bound keys, keys nothing is bound to, and odd ones. */
function routingKey(rng: Rng, type: string): string {
  return rng.pick([
    type,
    type,
    type,
    rng.pick(EVENT_TYPES),
    `trip.${randomString(rng, 10)}`,
    `notification.${randomString(rng, 10)}`,
    'trip',
    'client.trip.update',
    randomString(rng, 30),
    '',
    '#',
    'trip.#.x',
  ]);
}

/** The message's body bytes and which kind of corruption it carries. */
function bodyOf(rng: Rng, event: Record<string, unknown>): { kind: string; body: Buffer } {
  const kind = rng.pick(['valid', 'json-mutated', 'json-mutated', 'json-mutated', 'bytes-mutated', 'non-json', 'huge', 'deep', 'random-json', 'string-wrapped', 'padded', 'wrong-type', 'no-data']);
  switch (kind) {
    case 'valid':
      return { kind, body: Buffer.from(JSON.stringify(event)) };
    case 'json-mutated':
      return { kind, body: Buffer.from(serialize(rng, mutateJson(rng, event))) };
    case 'bytes-mutated':
      return { kind, body: mutateBytes(rng, Buffer.from(JSON.stringify(event))) };
    case 'non-json':
      return { kind, body: rng.chance(0.5) ? randomBytes(rng, rng.int(0, 500)) : Buffer.from(randomString(rng, 200)) };
    case 'huge':
      return { kind, body: Buffer.from(JSON.stringify({ ...event, data: { ...(event.data as object), pad: 'x'.repeat(rng.int(256 * 1024, 300 * 1024)) } })) };
    case 'deep':
      return { kind, body: Buffer.from(JSON.stringify(event).replace(/}$/, `,"extra":${deepJsonText(rng, rng.int(100, 20_000))}}`)) };
    case 'random-json':
      return { kind, body: Buffer.from(JSON.stringify(randomJson(rng, 3)) ?? 'null') };
    case 'string-wrapped':
      // Valid JSON whose value is a string holding the event: not an envelope.
      return { kind, body: Buffer.from(JSON.stringify(JSON.stringify(event))) };
    case 'padded':
      // Whitespace is still part of the body: past 256 KiB it is too large.
      return { kind, body: Buffer.from(JSON.stringify(event, null, 1) + ' '.repeat(rng.chance(0.5) ? rng.int(256 * 1024, 270 * 1024) : rng.int(0, 100))) };
    case 'wrong-type':
      return { kind, body: Buffer.from(JSON.stringify({ ...event, type: rng.pick(['trip.unknown', 'client.trip.update', 'notification', randomString(rng, 20)]) })) };
    default:
      return { kind, body: Buffer.from(JSON.stringify({ ...event, data: undefined })) };
  }
}

/**
 * AMQP bodies published to the bridge's exchange: valid events, mutated CloudEvents envelopes,
 * wrong types, non-JSON, oversized and deep bodies, wrong content types, random routing keys. Each
 * is recorded in the ledger with the contract's verdict; the final check matches the dead-letter queue.
 */
export const amqpSurface: Surface = {
  name: 'amqp',
  weight: 3,
  async run(ctx, rng, caseNo): Promise<CaseResult> {
    const { type, event } = sampleEvent(rng, caseNo, ctx.seed);
    const key = routingKey(rng, type);
    const { kind, body } = bodyOf(rng, event);
    const contentType = rng.pick([undefined, 'application/json', 'application/json', 'application/cloudevents+json', 'application/cloudevents+json', 'text/plain', 'application/octet-stream', 'application/xml', randomString(rng, 20)]);
    const contentEncoding = rng.chance(0.05) ? rng.pick(['gzip', 'identity', randomString(rng, 8)]) : undefined;
    const messageId = `fz-${ctx.seed}-${caseNo}`;
    const headers = rng.chance(0.2) ? { [randomString(rng, 10) || 'h']: rng.chance(0.5) ? randomString(rng, 40) : rng.int(-1e6, 1e6) } : undefined;
    const input = `amqp key=${JSON.stringify(key)} kind=${kind} ct=${contentType ?? '-'}${contentEncoding ? ` ce=${contentEncoding}` : ''} body=${brief(body, 200)}`;
    try {
      await ctx.amqp.publish(key, body, { contentType, contentEncoding, messageId, headers });
    } catch (err) {
      return { input, problems: [`publish failed: ${(err as Error).message}`] };
    }
    const entry = ctx.ledger.record({ caseNo, messageId, routingKey: key, contentType, contentEncoding }, body);
    return { input: `${input} verdict=${entry.routable ? (entry.verdict.deadLetter ? `dead-letter:${entry.verdict.reason}` : 'accept') : 'unroutable'}`, problems: [] };
  },
};
