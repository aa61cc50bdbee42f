/**
 * Wall-clock milliseconds with sub-millisecond resolution. Every process on one machine derives it
 * from the same system clock at start-up plus a monotonic counter, so a timestamp taken by the
 * publisher and one taken by a load client can be subtracted (checked to agree within ~0.1 ms).
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
