import { parse as parseCookies } from 'hono/utils/cookie';

/** Where a token may come from, as found on a Socket.IO handshake or an HTTP request. */
export interface TokenSources {
  /** Socket.IO's `auth` object (anything the client sent). */
  auth?: unknown;
  authorization?: string | undefined;
  query?: string | string[] | undefined;
  cookie?: string | undefined;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * The token from the first source that has one, in the contract's order: `auth.token`, the
 * `Authorization: Bearer` header, the `token` query parameter, then the named cookie.
 */
export function extractToken(sources: TokenSources, cookieName: string): string | undefined {
  const auth = sources.auth;
  if (typeof auth === 'object' && auth !== null && 'token' in auth) {
    const token = (auth as { token: unknown }).token;
    if (typeof token === 'string' && token !== '') return token;
  }
  const bearer = sources.authorization?.match(BEARER)?.[1];
  if (bearer) return bearer;
  const query = Array.isArray(sources.query) ? sources.query[0] : sources.query;
  if (query) return query;
  if (sources.cookie) {
    const fromCookie = parseCookies(sources.cookie, cookieName)[cookieName];
    if (fromCookie) return fromCookie;
  }
  return undefined;
}
