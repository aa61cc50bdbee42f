import type { PoolConnectResult } from '../clients/pool.js';
import { now } from '../lib/clock.js';
import type { CpuUse } from '../lib/cpu.js';
import { collectDeliveries, progress, type Deliveries, type ScenarioContext } from './measure.js';

export interface BroadcastResult {
  clients: number;
  connect: PoolConnectResult;
  /** Latency at a fixed, moderate rate. */
  latency: Deliveries & { rate: number; sent: number };
  /** Throughput: `events` broadcasts sent at once, timed until the last socket has all of them. */
  burst: Deliveries & { events: number; cpu: CpuUse };
}

/** How long the burst may take to reach every socket before its stragglers count as missing. */
const BURST_GRACE_MS = 30_000;

/**
 * Broadcast: `broadcastClients` sockets; `notification.broadcast` at `broadcastRate` for latency,
 * then a burst of `broadcastBurst` events for deliveries per second.
 */
export async function runBroadcast({ system, pool, secret, options, cpuWindow }: ScenarioContext): Promise<BroadcastResult> {
  const connect = await pool.connect({
    url: system.url,
    secret,
    total: options.broadcastClients,
    trips: 0,
    concurrency: options.concurrency,
    addressSpread: options.addressSpread,
    timeoutMs: 20_000,
  });
  progress(system.name, `broadcast: ${connect.connected} clients connected (${connect.failed} failed)`);
  try {
    const rate = options.broadcastRate;
    let startedAt = now();
    const paced = await system.sendBroadcasts({ rate, durationMs: options.broadcastSeconds * 1000, step: 'broadcast:latency' });
    const latency = await collectDeliveries(pool, 'broadcast:latency', paced.sent * connect.connected, startedAt, options.graceMs);
    progress(system.name, `broadcast ${rate}/s: p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms`);

    const events = options.broadcastBurst;
    const cpu = cpuWindow();
    startedAt = now();
    // A schedule of 1,000/s is a burst: every event is due within `events` ms.
    const burstSent = await system.sendBroadcasts({ rate: 1000, durationMs: events, step: 'broadcast:burst' });
    const burst = await collectDeliveries(pool, 'broadcast:burst', burstSent.sent * connect.connected, startedAt, BURST_GRACE_MS);
    progress(system.name, `broadcast burst of ${events}: ${Math.round(burst.deliveriesPerSec)} deliveries/s, ${burst.deliveredPct.toFixed(1)} % delivered`);
    return {
      clients: options.broadcastClients,
      connect,
      latency: { rate, sent: paced.sent, ...latency },
      burst: { events, ...burst, cpu: cpu() },
    };
  } finally {
    await pool.disconnect();
    await system.quiesce(30_000);
  }
}
