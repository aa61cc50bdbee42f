import type { Audit } from '../auth/audit.js';
import { clientAddressOf, type ClientAddressOf, type ProxyRange } from '../auth/client-address.js';
import type { RateLimiterFactory } from '../auth/rate-limiter.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { DEFAULT_PENDING_LIMITS, Outgoing, type PendingLimits } from './outgoing.js';
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
  /** Overrides of DEFAULT_PENDING_LIMITS (`MAX_PENDING_BYTES_PER_SOCKET`). */
  pending?: Partial<PendingLimits> | undefined;
  /** TRUST_PROXY: peers whose X-Forwarded-For names the client. */
  trustedProxies?: readonly ProxyRange[] | undefined;
}

/**
 * What protects the socket layer from its clients: who they are (their address), the audit trail,
 * the limits, slow readers, and token expiry.
 * Built once per bridge; `close()` stops its one interval.
 */
export class SocketGuard {
  readonly audit: Audit;
  readonly limiter: SocketLimiter;
  readonly expiry: TokenExpiry;
  /** Each socket's outgoing data: written once per turn, and cut when the client does not read. */
  readonly outgoing: Outgoing;
  /** The address per-address limits and audit lines use (the client's, behind a trusted proxy). */
  readonly clientAddress: ClientAddressOf;

  constructor(options: SocketGuardOptions) {
    this.audit = options.audit;
    this.limiter = new SocketLimiter({
      audit: options.audit,
      metrics: options.metrics,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.limiters ? { limiters: options.limiters } : {}),
    });
    this.clientAddress = clientAddressOf(options.trustedProxies ?? []);
    this.expiry = new TokenExpiry({ metrics: options.metrics, logger: options.logger });
    this.outgoing = new Outgoing({ ...DEFAULT_PENDING_LIMITS, ...options.pending }, options);
  }

  /** Idempotent. */
  close(): void {
    this.expiry.close();
  }
}
