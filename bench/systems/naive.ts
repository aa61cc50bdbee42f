import { runScopedName } from '../lib/broker.js';
import { AmqpSource } from './amqp-source.js';
import { ForkedServer } from './forked-server.js';
import { waitForEmptyQueue } from './queue-wait.js';
import type { RunContext, System } from './types.js';

/** The naive forwarder (servers/naive.ts) on a queue like the bridge's, fed by the same typed publisher. */
export function naiveSystem(ctx: RunContext, drainTrips: number): System {
  const queue = runScopedName(ctx.runId, 'naive');
  const exchange = `${queue}.events`;
  const source = new AmqpSource(ctx.amqpUrl, exchange);
  const server = new ForkedServer(ctx, 'naive', { BENCH_AMQP_URL: ctx.amqpUrl, BENCH_QUEUE: queue });

  return {
    name: 'naive',
    get url() {
      return server.url;
    },
    get pid() {
      return server.pid;
    },
    queue: {
      fill: (count) => source.fill(count, drainTrips, 'drain'),
      depth: () => ctx.broker.depth(queue),
      processed: async () => (await server.rpc.call<{ forwarded: number }>('stats')).forwarded,
    },
    prepare: () => ctx.broker.declareTopology(exchange, queue),
    start: () => server.start(),
    stop: () => server.stop(),
    sendTrips: (plan) => source.sendTrips(plan),
    sendBroadcasts: (plan) => source.sendBroadcasts(plan),
    quiesce: (timeoutMs) => waitForEmptyQueue(ctx.broker, queue, timeoutMs),
    close: () => source.close(),
  };
}
