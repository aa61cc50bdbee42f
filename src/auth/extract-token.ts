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

/** Where a token was found: a cookie is an ambient credential (a browser adds it to any request). */
export type TokenSource = 'auth' | 'authorization' | 'query' | 'cookie';

/**
 * The token from the first source that has one, in the contract's order: `auth.token`, the
 * `Authorization: Bearer` header, the `token` query parameter, then the named cookie.
 */
export function extractToken(sources: TokenSources, cookieName: string): string | undefined {
  return findToken(sources, cookieName)?.token;
}

/** As extractToken, also naming the source it came from. */
export function findToken(sources: TokenSources, cookieName: string): { token: string; source: TokenSource } | undefined {
  const auth = sources.auth;
  if (typeof auth === 'object' && auth !== null && 'token' in auth) {
    const token = (auth as { token: unknown }).token;
    if (typeof token === 'string' && token !== '') return { token, source: 'auth' };
  }
  const bearer = sources.authorization?.match(BEARER)?.[1];
  if (bearer) return { token: bearer, source: 'authorization' };
  const query = Array.isArray(sources.query) ? sources.query[0] : sources.query;
  if (query) return { token: query, source: 'query' };
  if (sources.cookie) {
    const fromCookie = parseCookies(sources.cookie, cookieName)[cookieName];
    if (fromCookie) return { token: fromCookie, source: 'cookie' };
  }
  return undefined;
}
