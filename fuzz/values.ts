import type { Rng } from '../chaos/rng.js';

/** Strings that have broken parsers, routers and loggers before. */
const NASTY_STRINGS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '../../etc/passwd',
  '%s%s%s%n',
  '${process.exit()}',
  '<script>alert(1)</script>',
  "'; DROP TABLE trips; --",
  'trip:',
  'user:',
  'trip:*',
  '#',
  '*',
  'null',
  'undefined',
  'NaN',
  '\u0000',
  '\r\n\r\n',
  '\ud800',
  '\udfff\ud800',
  '\u202e',
  '\ufeff',
  '😀',
  'ｔｒｉｐ',
  'a'.repeat(129),
];

/** A short string of one of several alphabets (ASCII, identifiers, unicode, lone surrogates, control characters). */
export function randomString(rng: Rng, maxLength = 40): string {
  const kind = rng.int(0, 6);
  if (kind === 0) return rng.pick(NASTY_STRINGS);
  const length = rng.int(0, maxLength);
  let out = '';
  for (let i = 0; i < length; i++) {
    switch (kind) {
      case 1:
        out += String.fromCharCode(rng.int(0x20, 0x7e));
        break;
      case 2:
        out += rng.pick([...'abcdefghijklmnopqrstuvwxyz0123456789_.:@-']);
        break;
      case 3:
        out += String.fromCodePoint(rng.int(0, 0x10ffff));
        break;
      case 4:
        out += String.fromCharCode(rng.int(0xd800, 0xdfff));
        break;
      case 5:
        out += String.fromCharCode(rng.int(0, 0x1f));
        break;
      default:
        out += rng.pick(['a', 'é', '中', '😀', '\u0301', '"', '\\', '/']);
    }
  }
  return out;
}

/** A number JSON can carry, biased towards edges (huge, tiny, negative zero, beyond 2^53). */
export function randomNumber(rng: Rng): number {
  return rng.pick([
    0,
    -0,
    1,
    -1,
    rng.int(-1000, 1000),
    2 ** 31,
    2 ** 32,
    2 ** 53 + 1,
    -(2 ** 63),
    1e308,
    -1e308,
    5e-324,
    1.5,
    Number.MAX_SAFE_INTEGER,
    rng.next() * 1e21,
  ]);
}

/** A random JSON value up to `depth` levels deep. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const kind = rng.int(0, depth > 0 ? 7 : 4);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return randomNumber(rng);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth - 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(0, 4); i > 0; i--) out[randomString(rng, 12)] = randomJson(rng, depth - 1);
      return out;
    }
  }
}

/** JSON text nested `depth` levels deep (`[[[…]]]` or `{"a":{"a":…}}`): hard on recursive walkers. */
export function deepJsonText(rng: Rng, depth: number): string {
  return rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** The same, as a value: a chain of `depth` nested objects or arrays. */
export function deepJsonValue(rng: Rng, depth: number): unknown {
  return JSON.parse(deepJsonText(rng, depth));
}

/** Random bytes, sometimes invalid UTF-8 on purpose (stray continuation bytes, overlong forms, 0xff). */
export function randomBytes(rng: Rng, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = rng.int(0, 255);
  if (length > 2 && rng.chance(0.5)) out.set(rng.pick([[0xc0, 0x80], [0xff, 0xfe], [0xed, 0xa0], [0x80, 0x80]]), rng.int(0, length - 2));
  return out;
}

/** An identifier the contract accepts (`[A-Za-z0-9_.:@-]`, 1–128). */
export function identifier(rng: Rng, prefix: string): string {
  return `${prefix}${rng.int(0, 99_999).toString(36)}`;
}

/** Percent-encodes every byte of a string's UTF-8 (lone surrogates become U+FFFD): never throws, unlike encodeURIComponent. */
export function percentEncode(value: string): string {
  return [...Buffer.from(value)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}
