import { Hono } from 'hono';
import type { SocketDirectory } from '../realtime/socket-directory.js';
import { requireAdmin, type AuthEnv } from './auth.js';
import { ok } from './respond.js';
import type { MiddlewareHandler } from 'hono';

export interface OpsDeps {
  sockets: SocketDirectory;
  brokerConnected(): boolean;
  /** Whether Redis is reachable; absent when the bridge runs without it. */
  redisConnected?: (() => boolean) | undefined;
  uptimeSeconds(): number;
  authenticate: MiddlewareHandler<AuthEnv>;
}

/** `/health`, `/stats`, `/rooms` and `/my-connections`. */
export function opsRoutes(deps: OpsDeps) {
  const app = new Hono<AuthEnv>();

  app.get('/health', (c) => {
    const broker = deps.brokerConnected();
    const redis = deps.redisConnected?.();
    const data = {
      status: broker && redis !== false ? ('ok' as const) : ('degraded' as const),
      broker: broker ? ('connected' as const) : ('disconnected' as const),
      ...(redis === undefined ? {} : { redis: redis ? ('connected' as const) : ('disconnected' as const) }),
      connections: deps.sockets.connections(),
      uptimeSeconds: deps.uptimeSeconds(),
    };
    if (data.status === 'ok') return ok(c, data);
    const message = broker ? 'Redis is unreachable' : redis === false ? 'the broker and Redis are unreachable' : 'the broker is unreachable';
    return c.json({ success: false as const, data, error: { code: 'unavailable' as const, message } }, 503);
  });

  app.get('/stats', deps.authenticate, requireAdmin, async (c) => {
    const summary = await deps.sockets.summary();
    return ok(c, {
      connections: summary.connections,
      users: summary.rooms.filter((r) => r.name.startsWith('user:')).length,
      rooms: summary.rooms.length,
      uptimeSeconds: deps.uptimeSeconds(),
      broker: { connected: deps.brokerConnected(), ...summary.broker },
    });
  });

  app.get('/rooms', deps.authenticate, requireAdmin, async (c) => ok(c, (await deps.sockets.summary()).rooms));

  app.get('/my-connections', deps.authenticate, async (c) => ok(c, await deps.sockets.connectionsOf(c.var.user.id)));

  return app;
}
