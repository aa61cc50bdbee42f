import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { Metrics } from '../metrics.js';
import { clientAddress } from './audit.js';
import type { AuthEnv } from './auth.js';
import { fail } from './respond.js';

export interface RateLimitOptions {
  limiter: RateLimiter;
  /** The budget's key: the user after requireUser (the default), or anything else the route knows. */
  key?: (c: Context<AuthEnv>) => string;
  metrics?: Pick<Metrics, 'rateLimited'> | undefined;
}

/**
 * Spends one point of the caller's budget; an empty budget is 429 `rate_limited` with `Retry-After`
 * (whole seconds), and its first hit in a window is audited as `audit.rate_limited`.
 */
export function rateLimit(options: RateLimitOptions) {
  const key = options.key ?? ((c: Context<AuthEnv>) => c.var.user.id);
  const { limiter } = options;
  return createMiddleware<AuthEnv>(async (c, next) => {
    const result = await limiter.consume(key(c));
    if (!result.limited) return next();
    options.metrics?.rateLimited.inc({ limiter: limiter.name });
    const audit = c.get('audit');
    if (result.firstHit) {
      audit?.record(
        'audit.rate_limited',
        { userId: c.get('user')?.id, address: clientAddress(c), route: `${c.req.method} ${c.req.path.slice(0, 256)}`, limiter: limiter.name },
        'HTTP request rate limited',
      );
    } else {
      audit?.count('audit.rate_limited');
    }
    const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    c.header('Retry-After', String(seconds));
    const { points, durationSeconds } = limiter.rule;
    return fail(c, 'rate_limited', `${limiter.name} allows ${points} per ${durationSeconds} s; retry in ${seconds} s`);
  });
}
