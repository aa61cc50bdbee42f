import { now, sleep } from './clock.js';

export interface PaceResult {
  /** Events sent (or handed to the publisher) within the window. */
  sent: number;
  /** Events the schedule asked for: rate × duration. */
  target: number;
  elapsedMs: number;
}

/**
 * Calls `send(n)` for n = 0, 1, 2… on a fixed schedule of `rate` per second for `durationMs`,
 * catching up on every tick with the events that fell due (timers are coarser than the rate).
 * `send` returns false when it has no capacity now (too many unconfirmed publishes): that event is
 * tried again on the next tick, so a publisher that cannot keep up shows as `sent < target`.
 */
export async function pace(rate: number, durationMs: number, send: (n: number) => boolean, tickMs = 2): Promise<PaceResult> {
  const target = Math.round((rate * durationMs) / 1000);
  const start = now();
  let sent = 0;
  for (;;) {
    const elapsed = now() - start;
    const due = Math.min(target, Math.floor((rate * elapsed) / 1000) + 1);
    while (sent < due && send(sent)) sent += 1;
    if (sent >= target || elapsed >= durationMs) break;
    await sleep(tickMs);
  }
  return { sent, target, elapsedMs: now() - start };
}
