import type { ClientEventName } from '../../contracts/index.js';
import type { Audit } from '../auth/audit.js';
import { memoryRateLimiters, type LimitRule, type RateLimiter, type RateLimiterFactory } from '../auth/rate-limiter.js';
import { BridgeError } from '../errors.js';
import type { Metrics } from '../metrics.js';

/** Most sockets one user may have on one instance (tabs, devices); the next handshake is `rate_limited`. */
export const MAX_SOCKETS_PER_USER = 10;

export interface SocketLimits {
  /** Every client event, known or not, counts here first: a burst of 20 a second per socket. */
  eventsPerSocket: LimitRule;
  /** Then against the user, across all their sockets (so more tabs do not buy more budget). */
  eventsPerUser: LimitRule;
  /** `trip:typing` also counts here: keystroke relays are the cheapest thing to flood a room with. */
  typingPerSocket: LimitRule;
  /**
   * Handshakes per client address, before any token work, against reconnect floods: 20 a second on
   * average, in a 5 s window so that a page of tabs reconnecting after a deploy gets through. Behind
   * a proxy named in TRUST_PROXY the address is the client's (X-Forwarded-For); behind any other,
   * every client shares the proxy's.
   */
  handshakesPerAddress: LimitRule;
  socketsPerUser: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  eventsPerSocket: { points: 20, durationSeconds: 1 },
  eventsPerUser: { points: 50, durationSeconds: 1 },
  typingPerSocket: { points: 5, durationSeconds: 1 },
  handshakesPerAddress: { points: 100, durationSeconds: 5 },
  socketsPerUser: MAX_SOCKETS_PER_USER,
};

/** Why a handshake was refused by a limit rather than for its token. */
export interface LimitRefusal {
  limiter: string;
  message: string;
  /** False for the repeats of a flood within one window: counted, not logged. */
  log: boolean;
}

interface EventSource {
  socketId: string;
  userId: string;
  address: string;
}

const retryText = (ms: number) => `retry in ${Math.max(1, Math.ceil(ms))} ms`;

/**
 * The limits on what clients may do: handshakes per address, sockets per user and events per
 * socket and per user. Counters key by socket id, user id and address; no per-socket timer exists.
 */
export class SocketLimiter {
  readonly limits: SocketLimits;
  private readonly handshakes: RateLimiter;
  private readonly perSocket: RateLimiter;
  private readonly perUser: RateLimiter;
  private readonly typing: RateLimiter;
  /** Sockets per user on this instance, kept on connect and disconnect (no fetchSockets per handshake). */
  private readonly socketCount = new Map<string, number>();

  constructor(
    private readonly deps: { audit: Audit; metrics: Metrics; limits?: Partial<SocketLimits>; limiters?: RateLimiterFactory },
  ) {
    this.limits = { ...DEFAULT_SOCKET_LIMITS, ...deps.limits };
    if (!Number.isInteger(this.limits.socketsPerUser) || this.limits.socketsPerUser < 1) {
      throw new Error('socketsPerUser must be a positive integer');
    }
    // Addresses and users may come through any instance: their budgets live where instances share
    // them. A socket lives on one instance only, so its budgets stay in memory, without a round trip.
    const shared = deps.limiters ?? memoryRateLimiters;
    this.handshakes = shared('handshakes_per_address', this.limits.handshakesPerAddress);
    this.perUser = shared('events_per_user', this.limits.eventsPerUser);
    this.perSocket = memoryRateLimiters('events_per_socket', this.limits.eventsPerSocket);
    this.typing = memoryRateLimiters('typing_per_socket', this.limits.typingPerSocket);
  }

  /** Counts a handshake from the address; a refusal when the address is over its budget. */
  async admitHandshake(address: string): Promise<LimitRefusal | undefined> {
    const result = await this.handshakes.consume(address);
    if (!result.limited) return undefined;
    this.deps.metrics.rateLimited.inc({ limiter: this.handshakes.name });
    return {
      limiter: this.handshakes.name,
      message: `too many handshakes from this address; ${retryText(result.retryAfterMs)}`,
      log: result.firstHit,
    };
  }

  /**
   * Takes one of the user's socket places. Returns the function that gives it back (idempotent, so
   * that it can be tied to both the socket's disconnect and its connection's close), or a refusal.
   */
  reserveSocket(userId: string): (() => void) | LimitRefusal {
    const count = this.socketCount.get(userId) ?? 0;
    if (count >= this.limits.socketsPerUser) {
      this.deps.metrics.rateLimited.inc({ limiter: 'sockets_per_user' });
      return {
        limiter: 'sockets_per_user',
        message: `at most ${this.limits.socketsPerUser} sockets per user; close one first`,
        log: true,
      };
    }
    this.socketCount.set(userId, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.socketCount.get(userId) ?? 1) - 1;
      if (left > 0) this.socketCount.set(userId, left);
      else this.socketCount.delete(userId);
    };
  }

  /** The user's sockets on this instance, as counted for the cap. */
  socketsOf(userId: string): number {
    return this.socketCount.get(userId) ?? 0;
  }

  /**
   * Counts one client event against the socket's and the user's budgets (and the typing budget);
   * throws `rate_limited` when one is spent, after auditing its first hit in the window.
   */
  async checkEvent(source: EventSource, event: ClientEventName | string): Promise<void> {
    const checks: Array<[RateLimiter, string]> = [[this.perSocket, source.socketId]];
    if (event === 'trip:typing') checks.push([this.typing, source.socketId]);
    checks.push([this.perUser, source.userId]);
    for (const [limiter, key] of checks) {
      const result = await limiter.consume(key);
      if (!result.limited) continue;
      this.deps.metrics.rateLimited.inc({ limiter: limiter.name });
      const { points, durationSeconds } = limiter.rule;
      const message = `${limiter.name} allows ${points} per ${durationSeconds} s; ${retryText(result.retryAfterMs)}`;
      const clientEvent = event.slice(0, 64);
      if (result.firstHit) {
        this.deps.audit.record(
          'audit.rate_limited',
          { userId: source.userId, address: source.address, socketId: source.socketId, clientEvent, limiter: limiter.name },
          'client event rate limited',
        );
      } else {
        this.deps.audit.count('audit.rate_limited');
      }
      throw new BridgeError('rate_limited', message);
    }
  }

  /** Drops a gone socket's counters at once rather than at the end of their window; never rejects. */
  async forgetSocket(socketId: string): Promise<void> {
    // A store that cannot be reached now lets the counters lapse with their window instead.
    await Promise.allSettled([this.perSocket.forget(socketId), this.typing.forget(socketId)]);
  }
}
