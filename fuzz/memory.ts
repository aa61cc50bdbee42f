import type { MemorySample } from './target.js';

export interface MemorySummary {
  startBytes: number;
  /** After the warm-up: the baseline growth is measured from. */
  warmBytes: number;
  peakBytes: number;
  /** After the settle period that follows the last case. */
  endBytes: number;
  growthBytes: number;
  boundBytes: number;
  samples: number;
  ok: boolean;
}

/** RSS at start, after warm-up, at its peak and after the settle period; growth = end − warm, under `boundBytes`. */
export function summarizeMemory(samples: MemorySample[], warmAt: number, boundBytes: number): MemorySummary {
  const first = samples[0]?.rssBytes ?? 0;
  const warm = samples.find((s) => s.at >= warmAt)?.rssBytes ?? first;
  const end = samples.at(-1)?.rssBytes ?? 0;
  const peak = Math.max(0, ...samples.map((s) => s.rssBytes));
  const growth = end - warm;
  return { startBytes: first, warmBytes: warm, peakBytes: peak, endBytes: end, growthBytes: growth, boundBytes, samples: samples.length, ok: samples.length > 1 && growth <= boundBytes };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
