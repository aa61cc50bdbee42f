import { SignJWT } from 'jose';
import type { TokenClaims } from '../../contracts/index.js';

/** The HS256 secret every test bridge is configured with. */
export const TEST_SECRET = 'test-secret-for-the-realtime-bridge-suite';
export const TEST_ISSUER = 'group-planner-api';
export const TEST_AUDIENCE = 'group-planner-client';

export interface TokenOptions {
  /** Seconds from now until expiry (negative: already expired). Default 3600. */
  expiresIn?: number;
  secret?: string;
  issuer?: string;
  audience?: string;
  /** Omit `iat`. */
  noIat?: boolean;
}

/** Signs an HS256 token the way Group Planner's API does. */
export async function signToken(
  claims: Partial<Omit<TokenClaims, 'exp'>> & { sub: string },
  options: TokenOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(options.issuer ?? TEST_ISSUER)
    .setAudience(options.audience ?? TEST_AUDIENCE)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (!options.noIat) jwt.setIssuedAt(now);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}
