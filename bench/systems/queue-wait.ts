import type { BenchBroker } from '../lib/broker.js';
import { sleep } from '../lib/clock.js';

/** Polls the queue until it holds no ready message, or `timeoutMs` passed. */
export async function waitForEmptyQueue(broker: BenchBroker, queue: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await broker.depth(queue)) > 0 && Date.now() < deadline) await sleep(50);
  await sleep(200);
}
