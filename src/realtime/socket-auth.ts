import type { ExtendedError } from 'socket.io';
import type { HandshakeErrorCode } from '../../contracts/index.js';
import { extractToken } from '../auth/extract-token.js';
import { userFromClaims } from '../auth/user.js';
import { TokenError, type VerifyToken } from '../auth/verify-token.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { BridgeSocket } from './types.js';

function refusal(code: HandshakeErrorCode, message: string): ExtendedError {
  const err: ExtendedError = new Error('unauthorized');
  err.data = { code, message };
  return err;
}

/** The handshake middleware: a verified token or `connect_error` "unauthorized" with its code. */
export function socketAuth(deps: { verifyToken: VerifyToken; cookieName: string; metrics: Metrics; logger: Logger }) {
  const log = deps.logger.child({ component: 'handshake' });
  return async (socket: BridgeSocket, next: (err?: ExtendedError) => void) => {
    const { auth, headers, query, address } = socket.handshake;
    const token = extractToken(
      { auth, authorization: headers.authorization, query: query.token, cookie: headers.cookie },
      deps.cookieName,
    );
    const refuse = (code: HandshakeErrorCode, message: string, userId?: string) => {
      deps.metrics.handshakeRefusals.inc({ code });
      log.info({ event: 'socket.refused', code, reason: message, userId, address }, 'handshake refused');
      next(refusal(code, message));
    };
    if (!token) return refuse('token_missing', 'no token in auth, header, query or cookie');
    try {
      const claims = await deps.verifyToken(token);
      socket.data.user = userFromClaims(claims);
      socket.data.connectedAt = new Date().toISOString();
      next();
    } catch (err) {
      if (err instanceof TokenError) return refuse(err.code, err.message);
      log.error({ event: 'socket.auth_failed', err }, 'token verification failed unexpectedly');
      refuse('token_invalid', 'token could not be verified');
    }
  };
}
