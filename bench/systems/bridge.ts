import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScopedName } from '../lib/broker.js';
import { freePort, stopChild, type OutputTail } from '../lib/children.js';
import { now, sleep } from '../lib/clock.js';
import { progress } from '../scenarios/measure.js';
import { AmqpSource } from './amqp-source.js';
import { waitForEmptyQueue } from './queue-wait.js';
import type { RunContext, System } from './types.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** Sums the bridge's `bridge_events_delivered_total` over its `type` labels. */
function deliveredFromMetrics(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('bridge_events_delivered_total')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export interface BridgeOptions {
  /**
   * bridge-redis: the same bridge started with `REDIS_URL` (the run's `--redis-url`): the Socket.IO
   * Redis adapter, and seq counters, history, de-duplication, membership, locks and rate limits in
   * Redis under `<its queue>:`, which are deleted when the system closes.
   */
  redis?: boolean;
}

/**
 * The real service, as deployed: `node dist/src/main.js` in its own process, production mode, its
 * own queue and exchange, events from the package's typed publisher.
 */
export function bridgeSystem(ctx: RunContext, drainTrips: number, options: BridgeOptions = {}): System {
  const name = options.redis ? 'bridge-redis' : 'bridge';
  const queue = runScopedName(ctx.runId, name);
  const exchange = `${queue}.events`;
  /** The bridge's own key prefix and adapter key: `<AMQP_QUEUE>:`. */
  const redisPrefix = `${queue}:`;
  const source = new AmqpSource(ctx.amqpUrl, exchange);
  let child: ChildProcess | undefined;
  let tail: OutputTail | undefined;
  let port = 0;

  const get = async (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });

  return {
    name,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    queue: {
      fill: (count) => source.fill(count, drainTrips, 'drain'),
      depth: () => ctx.broker.depth(queue),
      processed: async () => deliveredFromMetrics(await (await get('/metrics')).text()),
    },
    async prepare() {
      // Registered first: whatever the bridge writes is deleted even if the run is stopped midway.
      if (options.redis) ctx.redis.register(redisPrefix);
      await ctx.broker.declareTopology(exchange, queue);
    },
    async start() {
      const started = now();
      port = await freePort();
      ({ child, tail } = ctx.children.spawnNode(
        MAIN,
        {
        NODE_ENV: 'production',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        JWT_SECRET: ctx.secret,
        AMQP_URL: ctx.amqpUrl,
        AMQP_QUEUE: queue,
        AMQP_EXCHANGE: exchange,
        ...(options.redis ? { REDIS_URL: ctx.redisUrl } : {}),
        // Passed through for tuning runs (AMQP_PREFETCH=500 npm run bench -- --systems=bridge).
        ...(process.env.AMQP_PREFETCH ? { AMQP_PREFETCH: process.env.AMQP_PREFETCH } : {}),
      },
      undefined,
      // For profiles: BRIDGE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npm run bench -- --systems=bridge
      process.env.BRIDGE_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      ));
      // At LOG_LEVEL=warn there is no `bridge.started` line: /health answers 200 once the broker is up.
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${tail.text()}`);
        const ok = await get('/api/v1/socket/health').then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`${name} did not become healthy in 20 s:\n${tail.text()}`);
        await sleep(20);
      }
      return { startupMs: now() - started };
    },
    async stop() {
      if (child) await stopChild(child);
      child = undefined;
    },
    sendTrips: (plan) => source.sendTrips(plan),
    sendBroadcasts: (plan) => source.sendBroadcasts(plan),
    quiesce: (timeoutMs) => waitForEmptyQueue(ctx.broker, queue, timeoutMs),
    async close() {
      await source.close();
      // The runner stops the process before closing, so nothing writes these keys any more.
      if (options.redis) progress(name, `deleted ${await ctx.redis.deleteKeys(redisPrefix)} Redis keys ${redisPrefix}*`);
    },
  };
}
