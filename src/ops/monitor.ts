import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';

/** How often a stream pushes a snapshot. */
export const OPS_TICK_MS = 1000;

/** Most ops streams open at once on one instance (each computes a snapshot per tick). */
export const MAX_OPS_STREAMS = 8;

/** The metrics a snapshot reads (the objects themselves, not the `/metrics` text). */
export type OpsMetrics = Pick<Metrics, 'consumed' | 'delivered' | 'duplicates' | 'deadLettered' | 'deliveryLag'>;

/** The delay monitor's sampling period; its readings include it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 20;
const delayMs = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - LOOP_RESOLUTION_MS);

export interface OpsMonitorOptions {
  maxStreams?: number;
  tickMs?: number;
}

/** One open stream's place: aborted when the client goes away or the monitor closes. */
export interface StreamSlot {
  readonly signal: AbortSignal;
  /** Waits `ms`, or less when the slot is released meanwhile (its timer is then cleared). */
  sleep(ms: number): Promise<void>;
  /** Gives the place back; idempotent. */
  release(): void;
}

export interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/**
 * What the ops page's routes share on one instance: the metrics, an event-loop delay monitor of its
 * own (prom-client resets its one on every scrape, so reading that would steal the scraper's
 * window), and the bounded set of open streams, which close() ends.
 */
export class OpsMonitor {
  /** When the counters started from zero (the baseline of a sampler's first interval). */
  readonly createdAt = performance.now();
  readonly maxStreams: number;
  readonly tickMs: number;
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private loopWindow: EventLoopDelay | null = null;
  private loopResetAt = performance.now();
  private readonly slots = new Set<AbortController>();
  private closed = false;

  constructor(
    readonly metrics: OpsMetrics,
    options: OpsMonitorOptions = {},
  ) {
    this.maxStreams = options.maxStreams ?? MAX_OPS_STREAMS;
    this.tickMs = options.tickMs ?? OPS_TICK_MS;
    if (!(this.maxStreams >= 1) || !(this.tickMs >= 10)) throw new RangeError('maxStreams must be ≥ 1 and tickMs ≥ 10');
    this.loop.enable();
  }

  /** Streams open now. */
  openStreams(): number {
    return this.slots.size;
  }

  /**
   * Event-loop delay (ms) over the last window of about a second, shared by every reader: the
   * histogram is read and reset at most once per window, so several streams do not split it.
   */
  eventLoopDelayMs(): EventLoopDelay | null {
    const now = performance.now();
    if (now - this.loopResetAt >= 1000 && this.loop.count > 0) {
      this.loopWindow = { p50: delayMs(this.loop.percentile(50)), p99: delayMs(this.loop.percentile(99)), max: delayMs(this.loop.max) };
      this.loop.reset();
      this.loopResetAt = now;
    }
    return this.loopWindow;
  }

  /** A place for one more stream, or undefined when `maxStreams` are open (or the monitor is closed). */
  openStream(): StreamSlot | undefined {
    if (this.closed || this.slots.size >= this.maxStreams) return undefined;
    const controller = new AbortController();
    this.slots.add(controller);
    const release = () => {
      this.slots.delete(controller);
      controller.abort();
    };
    return {
      signal: controller.signal,
      release,
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          if (controller.signal.aborted) return resolve();
          const done = () => {
            clearTimeout(timer);
            controller.signal.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, ms);
          controller.signal.addEventListener('abort', done);
        }),
    };
  }

  /** Ends every open stream and stops the delay monitor. Idempotent. */
  close(): void {
    this.closed = true;
    for (const controller of [...this.slots]) controller.abort();
    this.slots.clear();
    this.loop.disable();
  }
}
