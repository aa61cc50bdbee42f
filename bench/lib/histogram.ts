/** Buckets per power of two: a recorded value is known to within 1/64 (1.6 %). */
const SUB = 64;
const LINEAR = 2 * SUB;

/** What crosses the IPC channel: sparse bucket counts plus exact count, max and sum. */
export interface HistogramData {
  buckets: Array<[index: number, count: number]>;
  count: number;
  maxMs: number;
  sumMs: number;
}

/** Bucket of a value in microseconds: exact below 128 µs, log-linear above. */
function indexOf(us: number): number {
  if (us < LINEAR) return us;
  const shift = Math.floor(Math.log2(us)) - 6; // us / 2^shift falls in [64, 128)
  return SUB * (shift + 1) + (Math.floor(us / 2 ** shift) - SUB);
}

/** The middle of a bucket, in microseconds. */
function valueOf(index: number): number {
  if (index < LINEAR) return index;
  const shift = Math.floor(index / SUB) - 1;
  const mantissa = (index % SUB) + SUB;
  return (mantissa + 0.5) * 2 ** shift;
}

/**
 * A latency histogram small enough to ship over IPC whatever the number of samples (a load client
 * may record a million deliveries), mergeable across client processes.
 */
export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  maxMs = 0;
  sumMs = 0;

  record(ms: number): void {
    const clamped = ms > 0 ? ms : 0; // one clock, but a sample can still read -0.01 ms
    const index = indexOf(Math.round(clamped * 1000));
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.count += 1;
    this.sumMs += clamped;
    if (clamped > this.maxMs) this.maxMs = clamped;
  }

  merge(data: HistogramData): this {
    for (const [index, count] of data.buckets) this.counts.set(index, (this.counts.get(index) ?? 0) + count);
    this.count += data.count;
    this.sumMs += data.sumMs;
    this.maxMs = Math.max(this.maxMs, data.maxMs);
    return this;
  }

  /** The value below which `p` percent of the samples fall, in ms (NaN when empty). */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(index) ?? 0;
      if (seen >= rank) return Math.min(valueOf(index) / 1000, this.maxMs);
    }
    return this.maxMs;
  }

  toData(): HistogramData {
    return { buckets: [...this.counts], count: this.count, maxMs: this.maxMs, sumMs: this.sumMs };
  }
}
