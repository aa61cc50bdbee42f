import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { bucketIncrease, histogramQuantile, increase, perSecond, type Bucket } from '../../src/ops/rates.js';
import { rates, readCounters, type Reading } from '../../src/ops/snapshot.js';

const buckets = (pairs: Array<[number, number]>): Bucket[] => pairs.map(([le, count]) => ({ le, count }));

describe('histogramQuantile (as Prometheus interpolates cumulative buckets)', () => {
  const b = buckets([
    [1, 10],
    [2, 20],
    [Infinity, 20],
  ]);

  it('interpolates linearly inside the bucket that holds the rank, from 0 for the first bucket', () => {
    expect(histogramQuantile(0.25, b)).toBeCloseTo(0.5);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(1);
    expect(histogramQuantile(0.75, b)).toBeCloseTo(1.5);
    expect(histogramQuantile(0.99, b)).toBeCloseTo(1.98);
  });

  it('answers the last finite bound for a rank in the +Inf bucket', () => {
    expect(histogramQuantile(0.99, buckets([[1, 5], [Infinity, 10]]))).toBe(1);
  });

  it('is null without observations and refuses buckets that do not end with +Inf', () => {
    expect(histogramQuantile(0.5, buckets([[1, 0], [Infinity, 0]]))).toBeNull();
    expect(() => histogramQuantile(0.5, buckets([[1, 3]]))).toThrow(RangeError);
    expect(() => histogramQuantile(1.5, b)).toThrow(RangeError);
  });

  it('does not care about the order the buckets come in', () => {
    expect(histogramQuantile(0.75, [...b].reverse())).toBeCloseTo(1.5);
  });
});

describe('counter and bucket increases', () => {
  it('takes the whole value as the increase of a counter that went down (a reset)', () => {
    expect(increase(5, 8)).toBe(3);
    expect(increase(8, 2)).toBe(2);
    expect(perSecond(3, 2)).toBe(1.5);
    expect(perSecond(3, 0)).toBe(0);
  });

  it('keeps only the interval: earlier observations no longer weigh on the quantiles', () => {
    // 100 fast observations long ago, then 10 slow ones in the last interval.
    const before = buckets([[0.01, 100], [1, 100], [Infinity, 100]]);
    const after = buckets([[0.01, 100], [1, 110], [Infinity, 110]]);
    const interval = bucketIncrease(before, after);
    expect(interval).toEqual(buckets([[0.01, 0], [1, 10], [Infinity, 10]]));
    expect(histogramQuantile(0.5, interval)).toBeCloseTo(0.505);
    // Over everything, the median would have been in the fast bucket.
    expect(histogramQuantile(0.5, after)!).toBeLessThan(0.01);
  });

  it('takes every bucket as new after a histogram reset, and the first reading whole', () => {
    const before = buckets([[1, 50], [Infinity, 60]]);
    const after = buckets([[1, 2], [Infinity, 3]]);
    expect(bucketIncrease(before, after)).toEqual(after);
    expect(bucketIncrease([], after)).toEqual(after);
  });
});

describe('rates between two readings of the metrics objects', () => {
  it('gives events per second by type and reason, and the lag quantiles of the interval only', async () => {
    const metrics = new Metrics(() => 0);
    metrics.deliveredOf('trip.updated').inc(4);
    metrics.lagOf.trip.observe(0.003);
    const first: Reading = await readCounters(metrics, 1000);

    metrics.consumed.inc(12);
    metrics.deliveredOf('trip.updated').inc(6);
    metrics.deliveredOf('notification.created').inc(2);
    metrics.duplicates.inc(2);
    metrics.deadLettered.inc({ reason: 'invalid_data' }, 4);
    // 98 fast deliveries and 2 slow ones, over two stream kinds: summed over the `stream` label.
    for (let i = 0; i < 97; i++) metrics.lagOf.trip.observe(0.003);
    metrics.lagOf.user.observe(0.003);
    metrics.lagOf.broadcast.observe(0.2);
    metrics.lagOf.trip.observe(0.2);
    const second = await readCounters(metrics, 3000);

    const r = rates(first, second);
    expect(r.intervalSeconds).toBe(2);
    expect(r.events.consumed).toEqual({ total: 12, perSecond: 6 });
    expect(r.events.delivered).toEqual([
      { type: 'trip.updated', total: 10, perSecond: 3 },
      { type: 'notification.created', total: 2, perSecond: 1 },
    ]);
    expect(r.events.duplicates).toEqual({ total: 2, perSecond: 1 });
    expect(r.events.deadLettered).toEqual([{ reason: 'invalid_data', total: 4, perSecond: 2 }]);
    expect(r.lag.observations).toBe(100);
    // Rank 50 of 100 lies in (0.0025, 0.005], which holds 98: 0.0025 + 0.0025 · 50/98.
    expect(r.lag.p50Seconds).toBeCloseTo(0.0025 + 0.0025 * (50 / 98), 6);
    // Rank 99 lies in (0.1, 0.25], which holds the 2 slow ones: 0.1 + 0.15 · 1/2.
    expect(r.lag.p99Seconds).toBeCloseTo(0.175, 6);
  });

  it('has no lag quantiles when nothing was delivered in the interval', async () => {
    const metrics = new Metrics(() => 0);
    metrics.lagOf.trip.observe(0.5);
    const a = await readCounters(metrics, 0);
    const b = await readCounters(metrics, 1000);
    expect(rates(a, b).lag).toEqual({ observations: 0, p50Seconds: null, p99Seconds: null });
  });
});
