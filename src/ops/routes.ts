import { Hono, type MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { DeadLetters } from '../broker/dead-letters.js';
import { BridgeError } from '../errors.js';
import { requireAdmin, type AuthEnv } from '../http/auth.js';
import { ok } from '../http/respond.js';
import type { Logger } from '../logger.js';
import type { OpsMonitor } from './monitor.js';
import { deadLetterCounter, OpsSampler, type SnapshotSources } from './snapshot.js';

export interface OpsLiveRouteDeps extends Omit<SnapshotSources, 'monitor' | 'deadLetterCount'> {
  ops: OpsMonitor;
  deadLetters: Pick<DeadLetters, 'list'>;
  authenticate: MiddlewareHandler<AuthEnv>;
  logger: Logger;
}

/**
 * `GET /ops/snapshot` and `GET /ops/stream` (server-sent events, one `snapshot` event per tick),
 * admin only. Each stream computes its own snapshot once per tick, its rates over its own ticks;
 * its timer stops when the client goes away or the instance closes.
 */
export function opsLiveRoutes(deps: OpsLiveRouteDeps) {
  const log = deps.logger.child({ component: 'ops' });
  const sources: SnapshotSources = { ...deps, monitor: deps.ops, deadLetterCount: deadLetterCounter(deps.deadLetters, deps.brokerConnected) };
  // The plain route's rates cover the time since the previous snapshot request (or the start).
  const shared = new OpsSampler(sources);
  const app = new Hono<AuthEnv>();
  // requireAdmin also puts these requests on the audit trail (the stream once, when it opens).
  app.use('/ops/*', deps.authenticate, requireAdmin);

  app.get('/ops/snapshot', async (c) => {
    c.header('Cache-Control', 'no-store');
    return ok(c, await shared.next());
  });

  app.get('/ops/stream', (c) => {
    const slot = deps.ops.openStream();
    if (!slot) throw new BridgeError('rate_limited', `at most ${deps.ops.maxStreams} ops streams may be open at once`);
    const sampler = new OpsSampler(sources);
    c.req.raw.signal.addEventListener('abort', slot.release, { once: true });
    return streamSSE(c, async (stream) => {
      stream.onAbort(slot.release);
      log.info({ event: 'ops.stream_opened', userId: c.var.user.id, open: deps.ops.openStreams() }, 'ops stream opened');
      let id = 0;
      try {
        while (!slot.signal.aborted && !stream.aborted) {
          try {
            const snapshot = await sampler.next();
            if (slot.signal.aborted) break;
            await stream.writeSSE({ event: 'snapshot', id: String(++id), data: JSON.stringify(snapshot) });
          } catch (err) {
            // One failed tick (a cluster summary timing out, say) does not end the stream.
            log.warn({ event: 'ops.snapshot_failed', err }, 'ops snapshot failed');
            await stream.writeSSE({ event: 'problem', data: JSON.stringify({ code: 'unavailable', message: 'snapshot failed; retrying' }) });
          }
          await slot.sleep(deps.ops.tickMs);
        }
      } finally {
        slot.release();
        log.info({ event: 'ops.stream_closed', userId: c.var.user.id, snapshots: id }, 'ops stream closed');
      }
    });
  });

  return app;
}
