import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScopedName } from '../lib/broker.js';
import { freePort, stopChild, type OutputTail } from '../lib/children.js';
import { now, sleep } from '../lib/clock.js';
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

/**
 * The real service, as deployed: `node dist/src/main.js` in its own process, production mode, its
 * own queue and exchange, events from the package's typed publisher.
 */
export function bridgeSystem(ctx: RunContext, drainTrips: number): System {
  const queue = runScopedName(ctx.runId, 'bridge');
  const exchange = `${queue}.events`;
  const source = new AmqpSource(ctx.amqpUrl, exchange);
  let child: ChildProcess | undefined;
  let tail: OutputTail | undefined;
  let port = 0;

  const get = async (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });

  return {
    name: 'bridge',
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
    prepare: () => ctx.broker.declareTopology(exchange, queue),
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
        if (child.exitCode !== null) throw new Error(`the bridge exited (${child.exitCode}):\n${tail.text()}`);
        const ok = await get('/api/v1/socket/health').then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`the bridge did not become healthy in 20 s:\n${tail.text()}`);
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
    close: () => source.close(),
  };
}
