import type { TokenClaims } from '../../contracts/index.js';
import type { AuthUser } from '../realtime/types.js';

/** The user a verified token stands for. */
export function userFromClaims(claims: TokenClaims): AuthUser {
  return {
    id: claims.sub,
    role: claims.role ?? 'user',
    name: claims.name,
    trips: claims.trips ?? [],
    exp: claims.exp,
    iat: claims.iat,
  };
}
