import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisClientType } from 'redis';

/** At most `points` per fixed window of `durationSeconds`, per key. */
export interface LimitRule {
  points: number;
  durationSeconds: number;
}

/** A consume that passed, or one that was refused with when to retry. */
export type LimitResult =
  | { limited: false }
  | {
      limited: true;
      retryAfterMs: number;
      /** True for the first refusal of this key in this window: the one worth a log line. */
      firstHit: boolean;
    };

/** The one interface the socket and HTTP layers know; the store behind it is the factory's choice. */
export interface RateLimiter {
  readonly name: string;
  readonly rule: LimitRule;
  /** Takes `cost` points from the key's budget; never rejects for being limited. */
  consume(key: string, cost?: number): Promise<LimitResult>;
  /** Drops the key's record (a socket that is gone); a user's budget is never forgotten this way. */
  forget(key: string): Promise<void>;
}

/** Builds a named limiter: in memory, or in Redis (RateLimiterRedis) to share budgets across instances. */
export type RateLimiterFactory = (name: string, rule: LimitRule) => RateLimiter;

/** Refuses a rule that cannot work, when it is built rather than at the first request. */
export function checkRule(name: string, rule: LimitRule): void {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`rate limiter name ${JSON.stringify(name)} must be snake_case`);
  if (!Number.isInteger(rule.points) || rule.points < 1) throw new Error(`${name}: points must be a positive integer`);
  if (!Number.isInteger(rule.durationSeconds) || rule.durationSeconds < 1) {
    throw new Error(`${name}: durationSeconds must be a positive integer`);
  }
}

/**
 * Adapts a rate-limiter-flexible limiter. A refusal arrives as a rejected RateLimiterRes; any other
 * rejection is a store failure (Redis down) and is rethrown, so the caller answers `internal`.
 */
export function fromFlexible(name: string, rule: LimitRule, limiter: RateLimiterAbstract): RateLimiter {
  checkRule(name, rule);
  return {
    name,
    rule,
    async consume(key, cost = 1) {
      try {
        await limiter.consume(key, cost);
        return { limited: false };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return {
          limited: true,
          retryAfterMs: Math.max(rejection.msBeforeNext, 0),
          firstHit: rejection.consumedPoints - cost <= rule.points,
        };
      }
    },
    async forget(key) {
      await limiter.delete(key);
    },
  };
}


const memoryLimiter = (name: string, rule: LimitRule) =>
  new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds });

/** In-process limiters: each instance counts on its own (the budgets are per instance). */
export const memoryRateLimiters: RateLimiterFactory = (name, rule) => fromFlexible(name, rule, memoryLimiter(name, rule));

/**
 * Limiters whose budgets every instance shares, counted atomically in Redis. While Redis is
 * unreachable each instance counts in memory instead (rate-limiter-flexible's insurance limiter),
 * so that an outage neither lifts the limits nor refuses every client.
 */
export function redisRateLimiters(client: RedisClientType, prefix: string): RateLimiterFactory {
  return (name, rule) =>
    fromFlexible(
      name,
      rule,
      new RateLimiterRedis({
        storeClient: client,
        useRedisPackage: true,
        rejectIfRedisNotReady: true,
        keyPrefix: `${prefix}${name}`,
        points: rule.points,
        duration: rule.durationSeconds,
        insuranceLimiter: memoryLimiter(name, rule),
      }),
    );
}
