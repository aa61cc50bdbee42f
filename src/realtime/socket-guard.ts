import type { Audit } from '../auth/audit.js';
import type { RateLimiterFactory } from '../auth/rate-limiter.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { SocketLimiter, type SocketLimits } from './socket-limits.js';
import { TokenExpiry } from './token-expiry.js';

export interface SocketGuardOptions {
  audit: Audit;
  metrics: Metrics;
  logger: Logger;
  /** Overrides of DEFAULT_SOCKET_LIMITS (tests; an operator's tuning). */
  limits?: Partial<SocketLimits> | undefined;
  /** Where counters live: memory by default; a Redis factory shares them across instances. */
  limiters?: RateLimiterFactory | undefined;
}

/**
 * What protects the socket layer from its clients: the audit trail, the limits, and token expiry.
 * Built once per bridge; `close()` stops its one interval.
 */
export class SocketGuard {
  readonly audit: Audit;
  readonly limiter: SocketLimiter;
  readonly expiry: TokenExpiry;

  constructor(options: SocketGuardOptions) {
    this.audit = options.audit;
    this.limiter = new SocketLimiter({
      audit: options.audit,
      metrics: options.metrics,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.limiters ? { limiters: options.limiters } : {}),
    });
    this.expiry = new TokenExpiry({ metrics: options.metrics, logger: options.logger });
  }

  /** Idempotent. */
  close(): void {
    this.expiry.close();
  }
}
