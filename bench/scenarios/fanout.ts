import type { PoolConnectResult } from '../clients/pool.js';
import { now } from '../lib/clock.js';
import type { CpuUse } from '../lib/cpu.js';
import { membersPerTrip, tripIdOf } from '../lib/events.js';
import { collectDeliveries, progress, type Deliveries, type ScenarioContext } from './measure.js';

export interface FanoutStep extends Deliveries {
  /** Trip events per second asked for. */
  rate: number;
  /** Events sent and the schedule's count: fewer sent means the publisher itself fell behind. */
  sent: number;
  target: number;
  ok: boolean;
  /** Why the step broke, when it did. */
  broke?: string;
  /** CPU use during the step (publishing and the grace for late deliveries). */
  cpu: CpuUse;
}

export interface FanoutResult {
  clients: number;
  trips: number;
  connect: PoolConnectResult;
  /** Steps in order of rate: the listed rates up to the first that broke, then the bisection between. */
  steps: FanoutStep[];
  /** The highest rate whose step held (p99 under the limit, deliveries kept up); null if none did. */
  maxRate: number | null;
  /** True when even the highest rate tried held: the real limit is above it. */
  maxRateIsFloor: boolean;
}

/** Why a step broke, or undefined when it held. */
function breakReason(step: Omit<FanoutStep, 'ok' | 'broke' | 'cpu'>, p99LimitMs: number): string | undefined {
  if (step.sent < 0.98 * step.target) return `publisher behind (${step.sent} of ${step.target} sent)`;
  if (step.deliveredPct < 99) return `deliveries behind (${step.deliveredPct.toFixed(1)} % within the grace)`;
  if (!(step.p99Ms <= p99LimitMs)) return `p99 ${step.p99Ms.toFixed(1)} ms > ${p99LimitMs} ms`;
  return undefined;
}

/**
 * Fan-out: `clients` sockets, client i in trip i % trips; trip events at each rate in turn (event n
 * to trip n % trips) until a step breaks, then `refine` steps bisecting the last gap.
 */
export async function runFanout({ system, pool, secret, options, cpuWindow }: ScenarioContext): Promise<FanoutResult> {
  const { clients, trips } = options;
  const connect = await pool.connect({
    url: system.url,
    secret,
    total: clients,
    trips,
    concurrency: options.concurrency,
    addressSpread: options.addressSpread,
    timeoutMs: 20_000,
  });
  progress(system.name, `fan-out: ${connect.connected} clients joined ${trips} trips (${connect.failed} failed)`);
  const members = membersPerTrip(clients, trips);
  const tripIds = members.map((_, t) => tripIdOf(t));
  const steps: FanoutStep[] = [];

  /** One rate for `stepSeconds`, then the deliveries it made within the grace. */
  const runStep = async (rate: number): Promise<FanoutStep> => {
    const step = `${system.name}:fanout:${rate}`;
    const cpu = cpuWindow();
    const startedAt = now();
    const sent = await system.sendTrips({ rate, durationMs: options.stepSeconds * 1000, trips: tripIds, step });
    let expected = 0;
    for (let n = 0; n < sent.sent; n++) expected += members[n % trips] ?? 0;
    const deliveries = await collectDeliveries(pool, step, expected, startedAt, options.graceMs);
    const cpuUse = cpu();
    const measured = { rate, sent: sent.sent, target: sent.target, ...deliveries };
    const broke = breakReason(measured, options.p99LimitMs);
    progress(
      system.name,
      `fan-out ${rate}/s: ${Math.round(deliveries.deliveriesPerSec)} deliveries/s, p50 ${deliveries.p50Ms.toFixed(2)} ms, ` +
        `p99 ${deliveries.p99Ms.toFixed(2)} ms, max ${deliveries.maxMs.toFixed(1)} ms${broke ? ` — broke: ${broke}` : ''}`,
    );
    const result: FanoutStep = { ...measured, ok: !broke, ...(broke ? { broke } : {}), cpu: cpuUse };
    steps.push(result);
    return result;
  };

  try {
    // Warm-up, not measured: the JIT (server and publisher) and the connections' buffers, for every system alike.
    if (options.warmupSeconds > 0) {
      const warmupAt = now();
      const rate = options.rates[0] ?? 100;
      const sent = await system.sendTrips({ rate, durationMs: options.warmupSeconds * 1000, trips: tripIds, step: 'warmup' });
      await collectDeliveries(pool, 'warmup', sent.sent * (clients / trips), warmupAt, options.graceMs);
    }
    let held: number | undefined;
    let broke: number | undefined;
    for (const rate of options.rates) {
      if ((await runStep(rate)).ok) held = rate;
      else {
        broke = rate;
        break;
      }
    }
    // Bisect between the last rate that held and the first that broke, after the overload has drained.
    for (let i = 0; i < options.refine && held !== undefined && broke !== undefined; i++) {
      const rate = Math.round((held + broke) / 2);
      if (rate === held || rate === broke) break;
      await system.quiesce(30_000);
      if ((await runStep(rate)).ok) held = rate;
      else broke = rate;
    }
  } finally {
    await pool.disconnect();
    await system.quiesce(30_000);
  }
  const heldRates = steps.filter((s) => s.ok).map((s) => s.rate);
  return {
    clients,
    trips,
    connect,
    steps: steps.sort((a, b) => a.rate - b.rate),
    maxRate: heldRates.length > 0 ? Math.max(...heldRates) : null,
    maxRateIsFloor: steps.every((s) => s.ok),
  };
}
