import { SignJWT } from 'jose';
import { TokenClaims } from '../../contracts/index.js';
import { describeIssues } from './args.js';
import { UsageError } from './command.js';
import { configFrom } from './env.js';

/** The claims a development token may carry (sub required); checked with the contract's schema. */
export type DevClaims = Pick<TokenClaims, 'sub'> & Partial<Pick<TokenClaims, 'role' | 'name' | 'trips'>>;

export interface SignedToken {
  token: string;
  claims: DevClaims & { iss: string; aud: string; iat: number; exp: number };
  /** True when JWT_SECRET was unset and the service's development-only key signed it. */
  usingDevSecret: boolean;
}

const DevClaimsSchema = TokenClaims.pick({ sub: true, role: true, name: true, trips: true });

/**
 * Signs an HS256 token the bridge accepts, with JWT_SECRET (or, when unset, the service's own
 * development-only fallback from src/config.ts) and JWT_ISSUER / JWT_AUDIENCE. Refuses under
 * NODE_ENV=production: production tokens come from the Group Planner API, never from here.
 */
export async function signDevToken(env: Record<string, string | undefined>, claims: DevClaims, ttlSeconds: number): Promise<SignedToken> {
  if (env.NODE_ENV === 'production') {
    throw new UsageError('refused: NODE_ENV=production; development tokens are not signed in production (use a token from the Group Planner API)');
  }
  const parsed = DevClaimsSchema.safeParse(claims);
  if (!parsed.success) throw new UsageError(`invalid claims: ${describeIssues(parsed.error, '').join('; ')}`);
  const config = configFrom(env, ['NODE_ENV', 'JWT_SECRET', 'JWT_ISSUER', 'JWT_AUDIENCE']);
  // loadConfig puts the development fallback here when JWT_SECRET is unset outside production.
  const secret = config.JWT_SECRET;
  if (!secret) throw new UsageError('JWT_SECRET is unset');
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({ ...parsed.data })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
  return {
    token,
    claims: { ...parsed.data, iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, iat, exp },
    usingDevSecret: config.usingDevSecret,
  };
}

/** The stderr line when the development-only key signed a token (the key itself is never printed). */
export const DEV_SECRET_WARNING =
  'warning: JWT_SECRET is unset: signed with the development-only key, which only a bridge without JWT_SECRET (outside production) accepts';
