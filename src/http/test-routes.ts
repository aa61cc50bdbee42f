import { Hono, type MiddlewareHandler } from 'hono';
import { BroadcastBody, TestNotificationBody, TestTripUpdateBody } from '../../contracts/index.js';
import { memoryRateLimiters, type LimitRule, type RateLimiterFactory } from '../auth/rate-limiter.js';
import { canJoinTrip } from '../auth/access.js';
import { PublishUnavailableError, type EventPublisher } from '../broker/publisher.js';
import { BridgeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { clientAddress, markAdminAction } from './audit.js';
import type { MembershipStore } from '../state/stores.js';
import { requireAdmin, type AuthEnv } from './auth.js';
import { jsonBody as body } from './json-body.js';
import { rateLimit } from './rate-limit.js';
import { ok } from './respond.js';

/** Each user's budget across the three test endpoints: each call publishes to the broker. */
export const TEST_ROUTE_LIMIT: LimitRule = { points: 10, durationSeconds: 1 };

export interface TestRouteDeps {
  publisher: Pick<EventPublisher, 'publish'>;
  membership: MembershipStore;
  authenticate: MiddlewareHandler<AuthEnv>;
  /** Where the budget lives: memory unless told (a Redis factory shares it across instances). */
  limiters?: RateLimiterFactory | undefined;
  testRouteLimit?: LimitRule | undefined;
  metrics?: Pick<Metrics, 'rateLimited'> | undefined;
}

/**
 * The three test endpoints. They publish through RabbitMQ with the same publisher backend services
 * use, never emit directly, so that a 202 proves the broker took the event.
 */
export function testRoutes(deps: TestRouteDeps) {
  const app = new Hono<AuthEnv>();
  const limit = rateLimit({
    limiter: (deps.limiters ?? memoryRateLimiters)('http_test_routes', deps.testRouteLimit ?? TEST_ROUTE_LIMIT),
    metrics: deps.metrics,
  });
  const publish: EventPublisher['publish'] = async (type, data) => {
    try {
      return await deps.publisher.publish(type, data);
    } catch (err) {
      if (err instanceof PublishUnavailableError) throw new BridgeError('unavailable', err.message);
      throw err;
    }
  };

  app.post('/test-notification', deps.authenticate, limit, body(TestNotificationBody), async (c) => {
    const { userId = c.var.user.id, ...notification } = c.req.valid('json');
    if (userId !== c.var.user.id) {
      // Notifying someone else is an admin action: audited, whoever tries it.
      markAdminAction(c);
      if (c.var.user.role !== 'admin') throw new BridgeError('forbidden', 'only an admin may notify another user');
    }
    return ok(c, await publish('notification.created', { userId, notification }), 202);
  });

  app.post('/test-trip-update', deps.authenticate, limit, body(TestTripUpdateBody), async (c) => {
    const { tripId, changes } = c.req.valid('json');
    if (!(await canJoinTrip(c.var.user, tripId, deps.membership))) {
      c.get('audit')?.record(
        'audit.forbidden',
        { userId: c.var.user.id, address: clientAddress(c), route: `${c.req.method} ${c.req.path}`, tripId },
        'HTTP request forbidden',
      );
      throw new BridgeError('forbidden', `not a member of trip ${tripId}`);
    }
    return ok(c, await publish('trip.updated', { tripId, changes, updatedBy: c.var.user.id }), 202);
  });

  app.post('/broadcast', deps.authenticate, limit, requireAdmin, body(BroadcastBody), async (c) => {
    return ok(c, await publish('notification.broadcast', { notification: c.req.valid('json') }), 202);
  });

  return app;
}
