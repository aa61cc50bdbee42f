import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { originPolicy } from '../auth/same-origin.js';
import { BridgeError } from '../errors.js';
import { clientAddress } from './audit.js';
import { tokenOf, type AuthEnv } from './auth.js';

/** Methods that change nothing: a foreign page may send them with the cookie without harm. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CrossSiteOptions {
  /** FRONTEND_URLS: the pages that may act with the cookie, beside the server's own origin. */
  allowedOrigins: string[];
  cookieName: string;
}

/**
 * Refuses (403 `forbidden`) a state-changing request authenticated by the token cookie unless it
 * shows that one of our pages sent it: an `Origin` in the allow-list or naming the server itself, or,
 * without `Origin`, `Sec-Fetch-Site: same-origin`. Browsers add the cookie to a foreign page's form
 * post too; they add no Bearer header, and a query token means the sender has the token already.
 * A request that shows neither header is refused: nothing proves it came from one of our pages.
 */
export function crossSiteGuard(options: CrossSiteOptions) {
  const allowed = originPolicy(options.allowedOrigins);
  const sameSite = (c: Context) => {
    const origin = c.req.header('origin');
    if (origin !== undefined) return allowed(origin, c.req.header('host') ?? new URL(c.req.url).host);
    return c.req.header('sec-fetch-site') === 'same-origin';
  };
  return createMiddleware<AuthEnv>(async (c, next) => {
    if (SAFE_METHODS.has(c.req.method) || tokenOf(c, options.cookieName)?.source !== 'cookie' || sameSite(c)) {
      return next();
    }
    // The token is not verified yet: the line names the origin and the route, not a user.
    c.get('audit')?.record(
      'audit.forbidden',
      { address: clientAddress(c), route: `${c.req.method} ${c.req.path.slice(0, 256)}`, origin: c.req.header('origin')?.slice(0, 200), reason: 'cross_site' },
      'cross-site request refused',
    );
    throw new BridgeError(
      'forbidden',
      'cross-site request refused: with the token cookie, a state-changing request must come from an allowed origin; send the token as a Bearer header otherwise',
    );
  });
}
