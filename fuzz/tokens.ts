import { SignJWT } from 'jose';
import type { Rng } from '../chaos/rng.js';
import { mutateBytes } from './mutate.js';
import { randomBytes, randomString } from './values.js';

/** The HS256 secret the fuzzed bridge is configured with. */
export const FUZZ_SECRET = 'fuzz-secret-for-the-realtime-bridge';
const ISSUER = 'group-planner-api';
const AUDIENCE = 'group-planner-client';

/** What the bridge must answer for a token: accept it, refuse it with this code, or either (a mutated token). */
export type TokenExpectation = 'accept' | 'token_expired' | 'token_invalid' | 'token_missing' | 'unknown';

export interface FuzzToken {
  kind: string;
  token: string;
  expect: TokenExpectation;
}

const key = (secret: string) => new TextEncoder().encode(secret);
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

interface SignOptions {
  alg?: string;
  secret?: string;
  issuer?: string;
  audience?: string;
  expiresIn?: number | null;
}

/** An HS256 (or `alg`) token with these claims, the way Group Planner's API signs them. */
export async function sign(claims: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now - 5);
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 3600));
  return jwt.sign(key(options.secret ?? FUZZ_SECRET));
}

/** A well-behaved user's token. */
export function userToken(sub: string, trips: string[] = [], role?: 'admin' | 'user'): Promise<string> {
  return sign({ sub, trips, ...(role ? { role } : {}) });
}

/** One token of a random kind (valid, expired, unsigned, wrong key, wrong claims, huge, garbage, mutated) for `sub`. */
export async function randomToken(rng: Rng, sub: string, trips: string[]): Promise<FuzzToken> {
  const claims = { sub, trips };
  const kind = rng.pick([
    'valid',
    'valid',
    'admin',
    'expired',
    'alg-none',
    'wrong-key',
    'hs512',
    'wrong-issuer',
    'wrong-audience',
    'no-exp',
    'no-sub',
    'bad-sub',
    'bad-trips',
    'bad-role',
    'many-trips',
    'huge',
    'garbage',
    'three-parts',
    'mutated',
    'empty',
  ] as const);
  switch (kind) {
    case 'valid':
      return { kind, token: await sign(claims), expect: 'accept' };
    case 'admin':
      return { kind, token: await sign({ ...claims, role: 'admin' }), expect: 'accept' };
    case 'expired':
      return { kind, token: await sign(claims, { expiresIn: -rng.int(1, 100_000) }), expect: 'token_expired' };
    case 'alg-none':
      return { kind, token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: ISSUER, aud: AUDIENCE, exp: 9e9 })}.`, expect: 'token_invalid' };
    case 'wrong-key':
      return { kind, token: await sign(claims, { secret: `${FUZZ_SECRET}-not` }), expect: 'token_invalid' };
    case 'hs512':
      return { kind, token: await sign(claims, { alg: 'HS512' }), expect: 'token_invalid' };
    case 'wrong-issuer':
      return { kind, token: await sign(claims, { issuer: randomString(rng, 20) || 'x' }), expect: 'token_invalid' };
    case 'wrong-audience':
      return { kind, token: await sign(claims, { audience: 'another-client' }), expect: 'token_invalid' };
    case 'no-exp':
      return { kind, token: await sign(claims, { expiresIn: null }), expect: 'token_invalid' };
    case 'no-sub':
      return { kind, token: await sign({ trips }), expect: 'token_invalid' };
    case 'bad-sub':
      return { kind, token: await sign({ ...claims, sub: rng.pick(['', 'a b', 'x'.repeat(129), 'ü', 42, null, ['u']]) }), expect: 'token_invalid' };
    case 'bad-trips':
      return { kind, token: await sign({ ...claims, trips: rng.pick(['trip-1', [1, 2], [''], { a: 1 }, ['a/b']]) }), expect: 'token_invalid' };
    case 'bad-role':
      return { kind, token: await sign({ ...claims, role: rng.pick(['root', 'ADMIN', 1, ['admin']]) }), expect: 'token_invalid' };
    case 'many-trips':
      return { kind, token: await sign({ ...claims, trips: Array.from({ length: rng.int(100, 3000) }, (_, i) => `fz-t${i}`) }), expect: 'accept' };
    case 'huge':
      return { kind, token: await sign({ ...claims, name: 'n'.repeat(rng.int(201, 100_000)) }), expect: 'token_invalid' };
    case 'garbage':
      return { kind, token: rng.chance(0.5) ? randomString(rng, 300) || 'x' : randomBytes(rng, rng.int(1, 200)).toString('latin1'), expect: 'unknown' };
    case 'three-parts':
      return { kind, token: `${b64(randomString(rng))}.${b64(randomString(rng))}.${b64(randomString(rng))}`, expect: 'token_invalid' };
    case 'mutated': {
      const token = mutateBytes(rng, Buffer.from(await sign(claims))).toString('latin1');
      return { kind, token, expect: 'unknown' };
    }
    case 'empty':
      return { kind, token: '', expect: 'token_missing' };
  }
}
