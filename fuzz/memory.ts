import type { MemorySample } from './target.js';

export interface MemorySummary {
  startBytes: number;
  /** After the warm-up and a forced garbage collection: the baseline growth is measured from. */
  warmBytes: number;
  peakBytes: number;
  /** After the settle period that follows the last case, and a forced garbage collection. */
  endBytes: number;
  growthBytes: number;
  boundBytes: number;
  /** V8 heap in use after the forced collections (undefined when the inspector did not answer). */
  heapWarmBytes: number | undefined;
  heapEndBytes: number | undefined;
  samples: number;
  ok: boolean;
}

export interface MemoryPoint {
  rssBytes: number;
  heapBytes: number | undefined;
}

/** RSS at start, after warm-up, at its peak and after the settle period; growth = end − warm, under `boundBytes`. */
export function summarizeMemory(samples: MemorySample[], warm: MemoryPoint | undefined, end: MemoryPoint | undefined, boundBytes: number): MemorySummary {
  const first = samples[0]?.rssBytes ?? 0;
  const warmBytes = warm?.rssBytes ?? first;
  const endBytes = end?.rssBytes ?? samples.at(-1)?.rssBytes ?? 0;
  const peak = Math.max(0, ...samples.map((s) => s.rssBytes));
  const growth = endBytes - warmBytes;
  return { startBytes: first, warmBytes, peakBytes: peak, endBytes, growthBytes: growth, boundBytes, heapWarmBytes: warm?.heapBytes, heapEndBytes: end?.heapBytes, samples: samples.length, ok: growth <= boundBytes };
}

export const mb = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
