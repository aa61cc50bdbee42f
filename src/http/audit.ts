import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Audit } from '../auth/audit.js';
import { clientAddressOf, type ClientAddressOf } from '../auth/client-address.js';
import type { AuthEnv } from './auth.js';

function peerAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // `app.request()` in unit tests has no Node connection behind it.
    return undefined;
  }
}

/**
 * App-wide, first: finds the client's address once per request, the TCP peer's unless the peer is
 * a trusted proxy (then from `X-Forwarded-For`, which anyone else may forge).
 */
export function resolveClientAddress(addressOf: ClientAddressOf = clientAddressOf([])) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    c.set('clientAddress', addressOf(peerAddress(c), c.req.header('x-forwarded-for')));
    await next();
  });
}

/** The client's address as resolveClientAddress() found it (limits and audit lines use it). */
export function clientAddress(c: Context<AuthEnv>): string | undefined {
  return c.get('clientAddress');
}

/** Marks the request as an admin action, so that the audit trail records it with its outcome. */
export function markAdminAction(c: Context<AuthEnv>): void {
  c.set('adminAction', true);
}

/**
 * The app-wide audit middleware: makes the trail available as `c.var.audit` and, once the answer is
 * known, writes one `audit.admin` line (user, address, method, path, status) for every request that
 * was marked an admin action. `requireAdmin` marks every route it guards, refused ones included, so
 * an admin-only route is audited by using `requireAdmin` on an app built by createHttpApp.
 */
export function auditTrail(audit: Audit) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    c.set('audit', audit);
    await next();
    if (c.get('adminAction') !== true) return;
    audit.record(
      'audit.admin',
      {
        userId: c.get('user')?.id,
        role: c.get('user')?.role,
        address: clientAddress(c),
        method: c.req.method,
        path: c.req.path.slice(0, 256),
        status: c.res.status,
      },
      'admin action',
    );
  });
}

/**
 * For routes that are admin actions: marks the request so that auditTrail() logs it once, with its
 * final status. `requireAdmin` already does this; adding both still gives one line.
 */
export const auditAdmin = createMiddleware<AuthEnv>(async (c, next) => {
  markAdminAction(c);
  await next();
});
