import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ExpiryWheel } from './expiry-wheel.js';
import type { BridgeSocket } from './types.js';

/**
 * Ends sockets whose token expired (a JWT checked only at the handshake would otherwise work
 * forever): at `exp` the socket gets `auth:expired { expiredAt }` and is disconnected. One wheel
 * and one interval serve every socket of the instance.
 */
export class TokenExpiry {
  private readonly wheel: ExpiryWheel<BridgeSocket>;
  private readonly log: Logger;

  constructor(
    private readonly deps: { metrics: Metrics; logger: Logger },
    options: { tickMs?: number; now?: () => number } = {},
  ) {
    this.log = deps.logger.child({ component: 'token-expiry' });
    this.wheel = new ExpiryWheel<BridgeSocket>({
      ...options,
      onExpire: (socket) => this.expire(socket),
      onError: (err, socket) =>
        this.log.error({ event: 'socket.expire_failed', err, socketId: socket.id }, 'could not end an expired socket'),
    });
  }

  /** Schedules (or moves) the socket's end to its current token's `exp`. */
  track(socket: BridgeSocket): void {
    // A socket that went away while its refresh was being verified must not come back.
    if (!socket.connected) return;
    this.wheel.set(socket, socket.data.user.exp);
  }

  /** Forgets a socket that disconnected. */
  untrack(socket: BridgeSocket): void {
    this.wheel.delete(socket);
  }

  /** How many sockets are scheduled (for tests and the shutdown log). */
  get size(): number {
    return this.wheel.size;
  }

  /** Stops the interval. Idempotent. */
  close(): void {
    this.wheel.close();
  }

  private expire(socket: BridgeSocket): void {
    if (!socket.connected) return;
    const { id: userId, exp } = socket.data.user;
    const expiredAt = new Date(exp * 1000).toISOString();
    socket.emit('auth:expired', { expiredAt });
    // `true` closes the connection too; its write buffer (auth:expired) is flushed first.
    socket.disconnect(true);
    this.deps.metrics.socketsExpired.inc();
    this.log.info({ event: 'socket.expired', userId, socketId: socket.id, expiredAt }, 'token expired: socket disconnected');
  }
}
