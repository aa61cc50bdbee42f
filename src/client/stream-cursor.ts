import type { StreamPosition } from '../../contracts/index.js';

/** Anything that has a place in a stream (a trip event, a user's notification). */
export interface Numbered {
  seq: number;
  epoch: string;
}

const keyOf = (e: Numbered) => `${e.epoch}\u0000${e.seq}`;

/**
 * Puts one stream back in order for the application: every event is handed out once, in `seq`
 * order, within the epoch of the current position. Events ahead of a gap, or of an epoch the
 * cursor does not stand in yet, wait until the gap is filled or the position is reset.
 * Pure (no timers, no I/O), so the ordering rules are tested without a network.
 */
export class StreamCursor<E extends Numbered> {
  private pos: StreamPosition | undefined;
  /** Waiting events, by epoch and seq; a Map keeps arrival order, which `skipGap` relies on. */
  private readonly pending = new Map<string, E>();

  constructor(position?: StreamPosition) {
    this.pos = position && { seq: position.seq, epoch: position.epoch };
  }

  /** The last position handed to the application, or undefined before any. */
  get position(): StreamPosition | undefined {
    return this.pos && { ...this.pos };
  }

  /** True while events wait: for a position (none yet), for a gap to be filled, or for a new epoch. */
  get waiting(): boolean {
    return this.pending.size > 0;
  }

  /** Takes one received event; returns what may be handed out now, in order (often it alone, or nothing). */
  push(event: E): E[] {
    const pos = this.pos;
    // Already handed out: a replay overlapping what was received live, or a duplicate delivery.
    if (pos && event.epoch === pos.epoch && event.seq <= pos.seq) return [];
    this.pending.set(keyOf(event), event);
    return this.drain();
  }

  /**
   * Stands at `position` (a join acknowledgement's head): waiting events at or before it, or of
   * another epoch, are dropped; those that follow it are returned in order.
   */
  reset(position: StreamPosition): E[] {
    this.pos = { seq: position.seq, epoch: position.epoch };
    for (const [key, e] of this.pending) {
      if (e.epoch !== position.epoch || e.seq <= position.seq) this.pending.delete(key);
    }
    return this.drain();
  }

  /**
   * Gives up on a gap nothing will fill: moves to just before the earliest waiting event of the
   * epoch that arrived last and returns what then follows in order (call again while `waiting`).
   */
  skipGap(): E[] {
    const waiting = [...this.pending.values()];
    const newest = waiting.at(-1);
    if (!newest) return [];
    const first = Math.min(...waiting.filter((e) => e.epoch === newest.epoch).map((e) => e.seq));
    return this.reset({ seq: first - 1, epoch: newest.epoch });
  }

  /** Forgets the position and anything waiting: the next stream starts afresh. */
  clear(): void {
    this.pos = undefined;
    this.pending.clear();
  }

  private drain(): E[] {
    const out: E[] = [];
    if (!this.pos) return out;
    for (;;) {
      const key = keyOf({ epoch: this.pos.epoch, seq: this.pos.seq + 1 });
      const next = this.pending.get(key);
      if (!next) return out;
      this.pending.delete(key);
      this.pos = { seq: next.seq, epoch: next.epoch };
      out.push(next);
    }
  }
}
