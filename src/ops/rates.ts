/** One cumulative histogram bucket: observations at or below `le` (the last one's `le` is Infinity). */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The increase of a counter between two readings. A counter lower than before was reset (a new
 * process), so, as Prometheus' rate() does, its whole current value is the increase.
 */
export function increase(previous: number, current: number): number {
  return current >= previous ? current - previous : current;
}

/** Per second over `seconds`; 0 for an empty interval. */
export function perSecond(delta: number, seconds: number): number {
  return seconds > 0 ? delta / seconds : 0;
}

/**
 * The observations that fell in the interval between two readings of the same cumulative buckets
 * (same bounds, in order): bucket by bucket increases, still cumulative.
 */
export function bucketIncrease(previous: readonly Bucket[], current: readonly Bucket[]): Bucket[] {
  const before = new Map(previous.map((b) => [b.le, b.count]));
  // One bucket having gone down means the histogram was reset: then all of it is new.
  const reset = current.some((b) => b.count < (before.get(b.le) ?? 0));
  return current.map((b) => ({ le: b.le, count: reset ? b.count : b.count - (before.get(b.le) ?? 0) }));
}

/**
 * The q-quantile of cumulative buckets, as Prometheus' histogram_quantile() computes it: find the
 * bucket that holds rank q·total and interpolate linearly inside it (from 0 for the first bucket).
 * Past the last finite bound it answers that bound. null when there were no observations.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | null {
  if (q < 0 || q > 1 || Number.isNaN(q)) throw new RangeError(`quantile must be within [0, 1], not ${q}`);
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (sorted.length === 0 || sorted.at(-1)!.le !== Infinity) throw new RangeError('the buckets must end with le=+Inf');
  if (total <= 0) return null;
  const rank = q * total;
  const index = sorted.findIndex((b) => b.count >= rank);
  if (index === sorted.length - 1) return sorted.length > 1 ? sorted[index - 1]!.le : null;
  const bucket = sorted[index]!;
  const below = index > 0 ? sorted[index - 1]! : { le: 0, count: 0 };
  if (index === 0 && bucket.le <= 0) return bucket.le;
  const inBucket = bucket.count - below.count;
  // Only for q = 0 with an empty first bucket (Prometheus answers NaN there).
  if (inBucket <= 0) return bucket.le;
  return below.le + (bucket.le - below.le) * ((rank - below.count) / inBucket);
}
