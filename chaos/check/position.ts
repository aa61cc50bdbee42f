import type { Position } from '../history.js';

/** A position as messages write it: `seq@epoch`. */
export const at = (p: Position) => `${p.seq}@${p.epoch}`;

/** The position a log entry carries, when it carries both halves. */
export const positionOf = (e: { seq?: number; epoch?: string }): Position | undefined =>
  e.seq !== undefined && e.epoch !== undefined ? { seq: e.seq, epoch: e.epoch } : undefined;
