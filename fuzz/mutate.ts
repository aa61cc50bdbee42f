import type { Rng } from '../chaos/rng.js';
import { deepJsonValue, randomBytes, randomJson, randomNumber, randomString } from './values.js';

/** Flips, inserts, deletes, duplicates or corrupts a few bytes of `input` (never in place). */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let out = Buffer.from(input);
  for (let n = rng.int(1, 4); n > 0; n--) {
    const at = out.length === 0 ? 0 : rng.int(0, out.length - 1);
    switch (rng.int(0, 6)) {
      case 0:
        if (out.length > 0) out[at] = out[at]! ^ (1 << rng.int(0, 7));
        break;
      case 1:
        out = Buffer.concat([out.subarray(0, at), randomBytes(rng, rng.int(1, 8)), out.subarray(at)]);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + rng.int(1, 16)))]);
        break;
      case 3: {
        const piece = out.subarray(at, at + rng.int(1, 32));
        out = Buffer.concat([out.subarray(0, at), piece, piece, out.subarray(at)]);
        break;
      }
      case 4:
        out = out.subarray(0, at);
        break;
      case 5:
        // A byte that is never valid UTF-8 on its own, where a string probably is.
        if (out.length > 0) out[at] = rng.pick([0x80, 0xbf, 0xc0, 0xf8, 0xff]);
        break;
      default:
        if (out.length > 0) out[at] = rng.pick([0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x00]);
    }
  }
  return out;
}

type Json = unknown;

/** Every place in a JSON value: its parent and key (the root has none). */
function places(value: Json, parent?: object, key?: string | number, out: Array<{ parent?: object; key?: string | number; value: Json }> = []) {
  out.push({ ...(parent ? { parent, key } : {}), value });
  if (out.length > 500) return out;
  if (Array.isArray(value)) value.forEach((v, i) => places(v, value, i, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) places(v, value, k, out);
  return out;
}

/** A different value for a node: another type, an edge of its own type, something huge or deep. */
function replacement(rng: Rng, old: Json): Json {
  switch (rng.int(0, 9)) {
    case 0:
      return null;
    case 1:
      return typeof old === 'string' ? old.repeat(rng.int(2, 2000)).slice(0, 300_000) : randomString(rng);
    case 2:
      return randomNumber(rng);
    case 3:
      return [old];
    case 4:
      return { value: old };
    case 5:
      // Deeper nesting goes in as text (client-events, amqp): the fuzzer's own JSON.stringify must survive it.
      return deepJsonValue(rng, rng.int(50, 1000));
    case 6:
      // Not String(old): a mutated object may carry a `toString` key that is no function.
      return typeof old === 'string' ? '' : (JSON.stringify(old) ?? 'undefined');
    case 7:
      return rng.chance(0.5);
    default:
      return randomJson(rng, 3);
  }
}

/**
 * Mutates a copy of a JSON value at one to three of its nodes: deletes, replaces, retypes, duplicates
 * or adds keys (`__proto__` among them). The result is what a careless or hostile sender might write.
 */
export function mutateJson(rng: Rng, input: Json): Json {
  let root = structuredClone(input);
  for (let n = rng.int(1, 3); n > 0; n--) {
    const spots = places(root);
    const spot = rng.pick(spots);
    const op = rng.int(0, 4);
    if (spot.parent === undefined || spot.key === undefined) {
      root = op === 0 ? randomJson(rng) : replacement(rng, root);
      continue;
    }
    const parent = spot.parent as Record<string | number, Json>;
    if (op === 0) {
      if (Array.isArray(parent)) parent.splice(Number(spot.key), 1);
      else delete parent[spot.key];
    } else if (op === 1 && !Array.isArray(parent)) {
      // JSON.parse makes `__proto__` an own key; assigning it would set the prototype instead.
      Object.defineProperty(parent, rng.pick(['__proto__', 'constructor', randomString(rng, 10)]), {
        value: randomJson(rng, 2),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      parent[spot.key] = replacement(rng, spot.value);
    }
  }
  return root;
}

/** A value's JSON text, sometimes with whitespace padding or a trailing garbage byte. */
export function serialize(rng: Rng, value: Json): string {
  const text = JSON.stringify(value) ?? 'null';
  if (rng.chance(0.1)) return text + rng.pick([' ', '\n', ',', '}', 'x']);
  return text;
}
