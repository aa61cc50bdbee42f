import { describe, it, expect } from 'vitest';
import { MAX_EVENT_BYTES, MAX_EVENT_DEPTH } from '../../contracts/index.js';
import { decodeEvent, type Decoded } from '../../consumers/decode.js';

const envelope = {
  specversion: '1.0',
  id: 'evt-7f3a',
  source: 'trip-service',
  type: 'trip.updated',
  time: '2026-11-25T10:00:00Z',
  data: { tripId: 'trip-123', changes: { name: 'Alps' }, updatedBy: 'user-1' },
};

type Rejection = Extract<Decoded, { ok: false }>;

/** A body as published: bytes as given, text as its UTF-8, a value as its JSON. */
const asBody = (body: unknown) => (Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

function rejection(body: unknown): Rejection {
  const decoded = decodeEvent(asBody(body));
  if (decoded.ok) throw new Error(`expected a rejection, got event ${decoded.event.id}`);
  return decoded;
}

/** A valid envelope whose serialized JSON is about `bytes` long (padding in the trip's changes). */
function envelopeOfSize(bytes: number) {
  const base = JSON.stringify({ ...envelope, data: { ...envelope.data, changes: { pad: '' } } }).length;
  return { ...envelope, data: { ...envelope.data, changes: { pad: 'x'.repeat(bytes - base) } } };
}

describe('decodeEvent', () => {
  describe('accepts a valid event', () => {
    it('from its bytes', () => {
      expect(decodeEvent(Buffer.from(JSON.stringify(envelope)))).toEqual({ ok: true, event: envelope });
    });

    it('nested as deep as MAX_EVENT_DEPTH, brackets in strings not counted', () => {
      const nest = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const body = JSON.stringify({ ...envelope, data: { ...envelope.data, changes: { deep: 'NEST', text: '[['.repeat(5_000) } } });
      // The envelope and data are two levels, changes a third: the array may nest the rest.
      expect(decodeEvent(Buffer.from(body.replace('"NEST"', nest(MAX_EVENT_DEPTH - 3)))).ok).toBe(true);
    });

    it('of every size up to exactly 256 KiB', () => {
      const body = Buffer.from(JSON.stringify(envelopeOfSize(MAX_EVENT_BYTES)));
      expect(body.length).toBe(MAX_EVENT_BYTES);
      expect(decodeEvent(body).ok).toBe(true);
    });

    it('without time (it is optional in the envelope)', () => {
      const { time: _time, ...withoutTime } = envelope;
      const decoded = decodeEvent(asBody(withoutTime));
      expect(decoded.ok && decoded.event.time).toBeUndefined();
      expect(decoded.ok).toBe(true);
    });
  });

  describe('too_large', () => {
    it('for a Buffer one byte over 256 KiB', () => {
      const body = Buffer.from(JSON.stringify(envelopeOfSize(MAX_EVENT_BYTES + 1)));
      expect(body.length).toBe(MAX_EVENT_BYTES + 1);
      const r = rejection(body);
      expect(r.reason).toBe('too_large');
      expect(r.detail).toContain(String(MAX_EVENT_BYTES + 1));
    });

    it('for a Buffer over 256 KiB even when it is not JSON', () => {
      expect(rejection(Buffer.alloc(MAX_EVENT_BYTES + 10, 'x')).reason).toBe('too_large');
    });

    it('for text measured in bytes, not characters', () => {
      // 100 000 three-byte characters: fewer characters than the limit, more bytes.
      const body = JSON.stringify({ ...envelope, data: { ...envelope.data, changes: { name: '€'.repeat(100_000) } } });
      expect(body.length).toBeLessThan(MAX_EVENT_BYTES);
      expect(rejection(body).reason).toBe('too_large');
    });

    it('for a body nested deeper than MAX_EVENT_DEPTH, before it is parsed', () => {
      const nest = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const body = JSON.stringify({ ...envelope, data: { ...envelope.data, changes: { deep: 'NEST' } } });
      const r = rejection(body.replace('"NEST"', nest(MAX_EVENT_DEPTH - 2)));
      expect(r.reason).toBe('too_large');
      expect(r.detail).toContain(String(MAX_EVENT_DEPTH));
      // Deep enough to overflow the stack when written out again: still rejected, at once.
      expect(rejection(body.replace('"NEST"', nest(20_000))).reason).toBe('too_large');
    });
  });

  describe('invalid_json', () => {
    it.each([
      ['a truncated Buffer', Buffer.from('{"specversion":"1.0",')],
      ['a non-JSON string', 'hello'],
      ['an empty body', Buffer.alloc(0)],
    ])('for %s', (_what, body) => {
      const r = rejection(body);
      expect(r.reason).toBe('invalid_json');
      expect(r.detail.length).toBeGreaterThan(0);
    });
  });

  describe('invalid_envelope names the failing field', () => {
    it.each([
      ['specversion', { ...envelope, specversion: '0.3' }],
      ['id', { ...envelope, id: '' }],
      ['id', { ...envelope, id: 'x'.repeat(129) }],
      ['source', { ...envelope, source: undefined }],
      ['type', { ...envelope, type: 7 }],
      ['time', { ...envelope, time: 'not a time' }],
    ])('%s', (field, body) => {
      const r = rejection(body);
      expect(r.reason).toBe('invalid_envelope');
      expect(r.detail).toMatch(new RegExp(`^${field}\\b`));
    });

    it('for JSON that is not an object', () => {
      expect(rejection('[1,2,3]').reason).toBe('invalid_envelope');
      expect(rejection('null').reason).toBe('invalid_envelope');
    });
  });

  describe('unknown_type', () => {
    it.each(['client.trip.update', 'trip.archived', 'notification.deleted', '__proto__', 'constructor'])(
      'for %s',
      (type) => {
        const r = rejection({ ...envelope, type });
        expect(r.reason).toBe('unknown_type');
        expect(r.detail).toContain(type);
      },
    );
  });

  describe('invalid_data names the failing field under data.', () => {
    it.each([
      ['data.tripId', 'trip.updated', { tripId: 'bad id', changes: {} }],
      ['data.changes', 'trip.updated', { tripId: 't' }],
      ['data.notification.title', 'notification.broadcast', { notification: { type: 'info', title: '', message: '' } }],
      ['data.userIds', 'notification.created', { notification: { type: 'info', title: 't', message: '' } }],
    ])('%s', (path, type, data) => {
      const r = rejection({ ...envelope, type, data });
      expect(r.reason).toBe('invalid_data');
      expect(r.detail.startsWith(`${path}:`)).toBe(true);
    });

    it('when data is not an object, the detail names data itself, as "data: <cause>"', () => {
      for (const data of [null, 'x', []]) {
        const r = rejection({ ...envelope, data });
        expect(r.reason).toBe('invalid_data');
        expect(r.detail).toMatch(/^data: /);
      }
    });

    it('when data is missing (optional in CloudEvents, required by every type), naming data', () => {
      const { data: _data, ...withoutData } = envelope;
      const r = rejection(withoutData);
      expect(r.reason).toBe('invalid_data');
      expect(r.detail).toMatch(/^data\b/);
    });
  });

  it('keeps detail to at most 200 characters, even for the longest causes', () => {
    const details = [
      rejection({ ...envelope, type: `trip.${'€'.repeat(123)}` }).detail,
      rejection(`{"a":"${'y'.repeat(10_000)}`).detail,
      rejection(`${'x'.repeat(10_000)}`).detail,
      rejection({ ...envelope, id: 'i'.repeat(10_000) }).detail,
      rejection({ ...envelope, data: { tripId: 't'.repeat(10_000), changes: {} } }).detail,
    ];
    for (const detail of details) {
      expect(detail.length).toBeGreaterThan(0);
      expect(detail.length).toBeLessThanOrEqual(200);
    }
  });
});
