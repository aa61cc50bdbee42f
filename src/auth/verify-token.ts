import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { TokenClaims, type HandshakeErrorCode } from '../../contracts/index.js';

/** A refused token, with the code the handshake reports. */
export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly code: HandshakeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifierOptions {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer: string;
  audience: string;
  /**
   * How long after a JWKS fetch an unknown `kid` is refused instead of refetching (jose's cooldown,
   * which keeps a flood of made-up kids from hammering the key server). Default 30 s.
   */
  jwksCooldownMs?: number | undefined;
}

/** How long fetched JWKS keys are used before they are fetched again. */
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
export const JWKS_COOLDOWN_MS = 30_000;

/** Checks a token's signature and claims; resolves to its claims or rejects with a TokenError. */
export type VerifyToken = (token: string) => Promise<TokenClaims>;

const ASYMMETRIC = ['RS256', 'ES256'];

/**
 * Builds the one `verifyToken()` that the socket and HTTP middleware share. HS256 tokens are checked
 * with the secret and RS256/ES256 tokens with the JWKS keys, so a token signed with a public key as an
 * HMAC secret (algorithm confusion), `alg: none` or any other algorithm is refused.
 */
export function createTokenVerifier(options: VerifierOptions): VerifyToken {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
        cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
        cooldownDuration: options.jwksCooldownMs ?? JWKS_COOLDOWN_MS,
      })
    : undefined;
  const claimChecks = { issuer: options.issuer, audience: options.audience, requiredClaims: ['exp', 'sub'] };

  return async function verifyToken(token) {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenError('token_invalid', 'malformed token');
    }
    let payload: unknown;
    try {
      if (alg === 'HS256' && secret) {
        payload = (await jwtVerify(token, secret, { ...claimChecks, algorithms: ['HS256'] })).payload;
      } else if (alg !== undefined && ASYMMETRIC.includes(alg) && jwks) {
        payload = (await jwtVerify(token, jwks, { ...claimChecks, algorithms: ASYMMETRIC })).payload;
      } else {
        throw new TokenError('token_invalid', `algorithm ${alg ?? 'missing'} is not accepted`);
      }
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError('token_expired', 'token expired');
      throw new TokenError('token_invalid', err instanceof errors.JOSEError ? err.code : 'invalid token');
    }
    const claims = TokenClaims.safeParse(payload);
    if (!claims.success) {
      const issue = claims.error.issues[0];
      throw new TokenError('token_invalid', `claim ${String(issue?.path[0] ?? '?')} is invalid`);
    }
    return claims.data;
  };
}
