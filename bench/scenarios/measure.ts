import type { ClientPool } from '../clients/pool.js';
import { now, sleep } from '../lib/clock.js';
import type { CpuUse } from '../lib/cpu.js';
import type { Options } from '../lib/options.js';
import type { System } from '../systems/index.js';

/** What every scenario runs with: the system (started), the load clients, the flags. */
export interface ScenarioContext {
  system: System;
  pool: ClientPool;
  /** The secret the clients sign their tokens with. */
  secret: string;
  options: Options;
  /** Opens a CPU window over the server, the runner (publisher), the clients, RabbitMQ and Redis. */
  cpuWindow(): () => CpuUse;
}

/** What the clients saw of one step: how many deliveries, how fast, and how late. */
export interface Deliveries {
  expected: number;
  delivered: number;
  /** delivered ÷ expected, in percent. */
  deliveredPct: number;
  /** Deliveries per second, from the first publish to the last arrival. */
  deliveriesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Waits up to `graceMs` for the step's deliveries still on their way, then collects the step's
 * latency histogram from every client process. `startedAt`: when the first event of the step left.
 */
export async function collectDeliveries(pool: ClientPool, step: string, expected: number, startedAt: number, graceMs: number): Promise<Deliveries> {
  const deadline = now() + graceMs;
  while (now() < deadline && (await pool.count(step)) < expected) await sleep(50);
  const { histogram, lastAt } = await pool.collect(step);
  const delivered = histogram.count;
  return {
    expected,
    delivered,
    deliveredPct: expected > 0 ? (100 * delivered) / expected : 0,
    deliveriesPerSec: lastAt > startedAt ? delivered / ((lastAt - startedAt) / 1000) : 0,
    p50Ms: histogram.percentile(50),
    p99Ms: histogram.percentile(99),
    maxMs: histogram.maxMs,
  };
}

/** Progress for the person watching (stderr, so that stdout is the table alone). */
export function progress(system: string, message: string): void {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(6)} s ${system}] ${message}\n`);
}
