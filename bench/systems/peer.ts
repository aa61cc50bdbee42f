import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';
import { runScopedName } from '../lib/broker.js';
import { now, sleep } from '../lib/clock.js';
import { broadcastMessage, tripMessage } from '../lib/events.js';
import { pace } from '../lib/pacer.js';
import { ForkedServer } from './forked-server.js';
import type { RunContext, System } from './types.js';

/**
 * The peer: publisher → `@socket.io/redis-emitter` → Redis pub/sub → a plain Socket.IO server with
 * the Redis adapter (servers/peer.ts). The adapter key is unique to the run.
 */
export function peerSystem(ctx: RunContext): System {
  const key = runScopedName(ctx.runId, 'peer');
  const redis = createClient({ url: ctx.redisUrl });
  redis.on('error', () => undefined);
  const emitter = new Emitter(redis, { key });
  const server = new ForkedServer(ctx, 'peer', { BENCH_REDIS_URL: ctx.redisUrl, BENCH_REDIS_KEY: key });

  return {
    name: 'peer',
    get url() {
      return server.url;
    },
    get pid() {
      return server.pid;
    },
    prepare: async () => {
      await redis.connect();
    },
    start: () => server.start(),
    stop: () => server.stop(),
    async sendTrips(plan) {
      const result = await pace(plan.rate, plan.durationMs, (n) => {
        const tripId = plan.trips[n % plan.trips.length] ?? '';
        emitter.to(`trip:${tripId}`).emit('trip:updated', tripMessage(tripId, { sentAt: now(), step: plan.step }));
        return true;
      });
      await redis.ping(); // node-redis keeps command order: every PUBLISH before it has reached Redis
      return result;
    },
    async sendBroadcasts(plan) {
      const result = await pace(plan.rate, plan.durationMs, () => {
        emitter.emit('notification', broadcastMessage({ sentAt: now(), step: plan.step }));
        return true;
      });
      await redis.ping();
      return result;
    },
    quiesce: () => sleep(200),
    async close() {
      if (redis.isOpen) await redis.quit();
    },
  };
}
