import type { ExtendedError } from 'socket.io';
import type { ConnectErrorData } from '../../contracts/index.js';
import { extractToken } from '../auth/extract-token.js';
import { userFromClaims } from '../auth/user.js';
import { TokenError, type VerifyToken } from '../auth/verify-token.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { SocketGuard } from './socket-guard.js';
import type { LimitRefusal } from './socket-limits.js';
import type { BridgeSocket } from './types.js';

/** `connect_error`: message `unauthorized` for token problems, `rate_limited` for limits. */
function refusal(data: ConnectErrorData): ExtendedError {
  const err: ExtendedError = new Error(data.code === 'rate_limited' ? 'rate_limited' : 'unauthorized');
  err.data = data;
  return err;
}

export interface SocketAuthDeps {
  verifyToken: VerifyToken;
  cookieName: string;
  metrics: Metrics;
  logger: Logger;
  guard: SocketGuard;
}

/**
 * The handshake middleware: the address's handshake budget (before any token work), a verified
 * token, then a place under the user's socket cap; otherwise `connect_error` with its code.
 */
export function socketAuth(deps: SocketAuthDeps) {
  const log = deps.logger.child({ component: 'handshake' });
  const { audit, limiter } = deps.guard;
  return async (socket: BridgeSocket, next: (err?: ExtendedError) => void) => {
    const { auth, headers, query } = socket.handshake;
    const address = deps.guard.clientAddress(socket.handshake.address, headers['x-forwarded-for']) ?? socket.handshake.address;
    const refuse = (code: ConnectErrorData['code'], message: string, userId?: string, limiter?: string) => {
      deps.metrics.handshakeRefusals.inc({ code });
      audit.record('socket.refused', { code, reason: message, userId, address, limiter }, 'handshake refused');
      next(refusal({ code, message }));
    };
    const refuseByLimit = (limit: LimitRefusal, userId?: string) => {
      if (!limit.log) {
        // A flood's repeats: counted, but one line per window is enough.
        deps.metrics.handshakeRefusals.inc({ code: 'rate_limited' });
        audit.count('socket.refused');
        audit.count('audit.rate_limited');
        return next(refusal({ code: 'rate_limited', message: limit.message }));
      }
      audit.record('audit.rate_limited', { userId, address, clientEvent: 'handshake', limiter: limit.limiter }, 'handshake rate limited');
      refuse('rate_limited', limit.message, userId, limit.limiter);
    };

    const flood = await deps.guard.limiter.admitHandshake(address);
    if (flood) return refuseByLimit(flood);

    const token = extractToken(
      { auth, authorization: headers.authorization, query: query.token, cookie: headers.cookie },
      deps.cookieName,
    );
    if (!token) return refuse('token_missing', 'no token in auth, header, query or cookie');
    let user;
    try {
      user = userFromClaims(await deps.verifyToken(token));
    } catch (err) {
      if (err instanceof TokenError) return refuse(err.code, err.message);
      log.error({ event: 'socket.auth_failed', err }, 'token verification failed unexpectedly');
      return refuse('token_invalid', 'token could not be verified');
    }
    // The client may have gone while the token was verified: then no place is taken.
    if (socket.conn.readyState !== 'open') return next(refusal({ code: 'token_invalid', message: 'connection closed' }));
    const release = limiter.reserveSocket(user.id);
    if (typeof release !== 'function') return refuseByLimit(release, user.id);
    socket.once('disconnect', release);
    socket.conn.once('close', release);
    socket.data.user = user;
    socket.data.address = address;
    socket.data.connectedAt = new Date().toISOString();
    next();
  };
}
