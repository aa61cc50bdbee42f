import { jwtVerify, SignJWT } from 'jose';

/** The issuer and audience the bridge requires by default (JWT_ISSUER / JWT_AUDIENCE). */
export const ISSUER = 'group-planner-api';
export const AUDIENCE = 'group-planner-client';

/** Who a comparison server's socket belongs to, from its token. */
export interface BenchUser {
  id: string;
  trips: string[];
}

const key = (secret: string) => new TextEncoder().encode(secret);

/** An HS256 access token as Group Planner's API issues them: one user, the trips it may join. */
export function signBenchToken(secret: string, sub: string, trips: string[], expiresInSeconds = 3600): Promise<string> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return new SignJWT({ trips })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + expiresInSeconds)
    .sign(key(secret));
}

/** The comparison servers' check: jose, HS256 only, issuer and audience, as the bridge does. */
export function benchTokenVerifier(secret: string): (token: string) => Promise<BenchUser> {
  const secretKey = key(secret);
  return async (token) => {
    const { payload } = await jwtVerify(token, secretKey, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
    if (typeof payload.sub !== 'string') throw new Error('no sub');
    const trips = Array.isArray(payload.trips) ? payload.trips.filter((t): t is string => typeof t === 'string') : [];
    return { id: payload.sub, trips };
  };
}
