import { now, sleep } from '../lib/clock.js';
import type { CpuUse } from '../lib/cpu.js';
import { progress, type ScenarioContext } from './measure.js';

export interface DrainResult {
  events: number;
  /** How fast the typed publisher filled the queue (confirms pipelined). */
  fillPerSec: number;
  /** Process start → accepting sockets. */
  startupMs: number;
  /** Process start → the queue's depth first fell. */
  firstConsumeMs: number;
  /** events ÷ (first consume → all handled). */
  eventsPerSec: number;
  drainMs: number;
  /** CPU use from the end of start-up until the queue was empty. */
  cpu: CpuUse;
}

const POLL_MS = 20;

/**
 * Drain: `events` trip events queued while the system is down; then it starts and empties the
 * queue. Timed from the first consumed message (seen as the depth falling) until the system has
 * handled all of them (its own counter: with auto-ack, an empty queue only means "sent to it").
 */
export async function runDrain({ system, options, cpuWindow }: ScenarioContext, timeoutMs: number): Promise<DrainResult | null> {
  const events = options.drainEvents;
  const queue = system.queue;
  if (!queue) return null;
  const { perSecond: fillPerSec } = await queue.fill(events);
  progress(system.name, `drain: ${events} events queued at ${Math.round(fillPerSec)}/s; starting`);
  const spawnedAt = now();
  const deadline = spawnedAt + timeoutMs;
  let startError: unknown;
  const starting = system.start().catch((err: unknown) => {
    startError = err;
    return { startupMs: Number.NaN };
  });
  let firstAt = 0;
  // The depth is read from the broker, so polling costs the system under test nothing.
  while (!firstAt && startError === undefined && now() < deadline) {
    if ((await queue.depth()) < events) firstAt = now();
    else await sleep(POLL_MS);
  }
  const { startupMs } = await starting;
  if (startError !== undefined) throw startError;
  const cpu = cpuWindow();
  while (now() < deadline && (await queue.depth()) > 0) await sleep(POLL_MS);
  while (now() < deadline && (await queue.processed()) < events) await sleep(POLL_MS);
  const doneAt = now();
  const cpuUse = cpu();
  if (doneAt >= deadline) throw new Error(`drain did not finish within ${timeoutMs} ms`);
  await system.stop();
  const drainMs = doneAt - firstAt;
  const result = { events, fillPerSec, startupMs, firstConsumeMs: firstAt - spawnedAt, eventsPerSec: events / (drainMs / 1000), drainMs, cpu: cpuUse };
  progress(system.name, `drain: ${Math.round(result.eventsPerSec)} events/s (${(drainMs / 1000).toFixed(2)} s)`);
  return result;
}
