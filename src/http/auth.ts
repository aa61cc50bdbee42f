import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { findToken } from '../auth/extract-token.js';
import { userFromClaims } from '../auth/user.js';
import { TokenError, type VerifyToken } from '../auth/verify-token.js';
import type { Audit } from '../auth/audit.js';
import { BridgeError } from '../errors.js';
import type { AuthUser } from '../realtime/types.js';

export type AuthEnv = {
  Variables: {
    user: AuthUser;
    /** The client's address, set app-wide by resolveClientAddress(). */
    clientAddress: string | undefined;
    /** The audit trail, set app-wide by auditTrail(). */
    audit: Audit;
    /** Set by requireAdmin (or markAdminAction): auditTrail() logs the request as `audit.admin`. */
    adminAction: boolean;
  };
};

/** The request's token and where it came from (Bearer header, `token` query parameter, cookie). */
export function tokenOf(c: Context, cookieName: string) {
  return findToken({ authorization: c.req.header('authorization'), query: c.req.query('token'), cookie: c.req.header('cookie') }, cookieName);
}

/** Requires a valid JWT (Bearer header, `token` query parameter or cookie) and sets `c.var.user`. */
export function requireUser(verifyToken: VerifyToken, cookieName: string) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const token = tokenOf(c, cookieName)?.token;
    if (!token) throw new BridgeError('unauthorized', 'token_missing: a Bearer token is required');
    try {
      c.set('user', userFromClaims(await verifyToken(token)));
    } catch (err) {
      if (err instanceof TokenError) throw new BridgeError('unauthorized', `${err.code}: ${err.message}`);
      throw err;
    }
    await next();
  });
}

/**
 * Requires `role: "admin"` (after requireUser). Also the audit hook: every request it guards,
 * allowed or refused, becomes one `audit.admin` line with its final status (see auditTrail()).
 */
export const requireAdmin = createMiddleware<AuthEnv>(async (c, next) => {
  c.set('adminAction', true);
  if (c.var.user.role !== 'admin') throw new BridgeError('forbidden', 'admin only');
  await next();
});
