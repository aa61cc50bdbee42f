import { Hono } from 'hono';
import type { SocketDirectory } from '../realtime/socket-directory.js';
import { requireAdmin, type AuthEnv } from './auth.js';
import { ok } from './respond.js';
import type { MiddlewareHandler } from 'hono';

export interface OpsDeps {
  sockets: SocketDirectory;
  /** Whether the broker (and Redis, when configured) are reachable. */
  brokerConnected(): boolean;
  brokerCounts(): Promise<{ consumed: number; delivered: number; deadLettered: number; duplicates: number }>;
  uptimeSeconds(): number;
  authenticate: MiddlewareHandler<AuthEnv>;
}

/** `/health`, `/stats`, `/rooms` and `/my-connections`. */
export function opsRoutes(deps: OpsDeps) {
  const app = new Hono<AuthEnv>();

  app.get('/health', (c) => {
    const data = {
      status: deps.brokerConnected() ? ('ok' as const) : ('degraded' as const),
      broker: deps.brokerConnected() ? ('connected' as const) : ('disconnected' as const),
      connections: deps.sockets.connections(),
      uptimeSeconds: deps.uptimeSeconds(),
    };
    if (data.status === 'ok') return ok(c, data);
    return c.json(
      { success: false as const, data, error: { code: 'unavailable' as const, message: 'the broker is unreachable' } },
      503,
    );
  });

  app.get('/stats', deps.authenticate, requireAdmin, async (c) => {
    const rooms = await deps.sockets.rooms();
    return ok(c, {
      connections: deps.sockets.connections(),
      users: rooms.filter((r) => r.name.startsWith('user:')).length,
      rooms: rooms.length,
      uptimeSeconds: deps.uptimeSeconds(),
      broker: { connected: deps.brokerConnected(), ...(await deps.brokerCounts()) },
    });
  });

  app.get('/rooms', deps.authenticate, requireAdmin, async (c) => ok(c, await deps.sockets.rooms()));

  app.get('/my-connections', deps.authenticate, async (c) => ok(c, await deps.sockets.connectionsOf(c.var.user.id)));

  return app;
}
