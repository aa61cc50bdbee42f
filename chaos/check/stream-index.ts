import type { Position } from '../history.js';
import type { Findings } from './findings.js';
import { at } from './position.js';

/** Seqs and ids listed in one message at most. */
const MAX_LISTED = 10;

/** Ids joined for a message, with an ellipsis when `total` says some were left out. */
const list = (ids: string[], total = ids.length) => `${ids.join(', ')}${total > ids.length ? ', …' : ''}`;

interface Slot {
  id: string;
  /** When it was first observed there; undefined when only the final tail holds it. */
  t?: number;
}

/** One stream: its expected order, and what every observation says its positions hold. */
export class StreamIndex {
  /** Distinct valid ids published to the stream, in publish order. */
  readonly expected: Array<{ id: string; t: number }> = [];
  readonly indexOf = new Map<string, number>();
  /** epoch → seq → the first id observed there. */
  readonly numbered = new Map<string, Map<number, Slot>>();
  /** id → every distinct position it was observed at. */
  readonly positions = new Map<string, Position[]>();
  /** Ids seen at a position besides the slot's, by `seq@epoch`. */
  private readonly conflicts = new Map<string, Set<string>>();
  /** The earliest time from which a client stayed in the stream to the end of the run (Infinity: none did). */
  stayedFrom = Infinity;

  constructor(readonly name: string) {}

  /**
   * The places a republish could be numbered at, when Redis forgot the original in between: between
   * the distinct events published before and after it: between k - 1 and k, in the order the
   * republishes were sent (k - 1 + 0.001, k - 1 + 0.002, …).
   */
  private readonly alternates = new Map<string, number[]>();
  /** Republishes sent since the last distinct event: orders the places of consecutive copies. */
  private copiesSinceDistinct = 0;

  /** @param renumberable for a republish: Redis lost its state since the original, so the copy may be numbered anew. */
  publish(id: string, t: number, renumberable = false): void {
    if (this.indexOf.has(id)) {
      // A republish adds no position of its own, at most a place its copy may take.
      const place = this.expected.length - 1 + ++this.copiesSinceDistinct / 1000;
      if (renumberable) this.alternates.set(id, [...(this.alternates.get(id) ?? []), place]);
      return;
    }
    this.indexOf.set(id, this.expected.length);
    this.expected.push({ id, t });
    this.copiesSinceDistinct = 0;
  }

  idAt(epoch: string, seq: number): string | undefined {
    return this.numbered.get(epoch)?.get(seq)?.id;
  }

  /** A client was in the stream from `from` until `until` (Infinity: to the end, connected). */
  present(from: number, until: number): void {
    if (until === Infinity) this.stayedFrom = Math.min(this.stayedFrom, from);
  }

  /** Adds one observation; reports the numbering rules one observation can break (1, 2 and 4). */
  observe(id: string, position: Position, t: number | undefined, findings: Findings): void {
    const { epoch, seq } = position;
    let seqs = this.numbered.get(epoch);
    if (!seqs) this.numbered.set(epoch, (seqs = new Map()));
    const slot = seqs.get(seq);
    if (!slot) {
      seqs.set(seq, { id, t });
      findings.check('numbering');
    } else if (slot.id !== id) {
      this.conflict(slot, id, position, t, findings);
    } else if (t !== undefined && (slot.t === undefined || t < slot.t)) {
      slot.t = t;
    }
    const known = this.positions.get(id);
    if (!known) {
      this.positions.set(id, [{ epoch, seq }]);
      if (!this.indexOf.has(id)) {
        findings.add({
          property: 'numbering',
          rule: 'notInStream',
          message: `${id} was observed in ${this.name} at ${at(position)}, but no valid event of that id was published to it`,
          stream: this.name,
          eventIds: [id],
          t,
        });
      }
      return;
    }
    if (known.some((p) => p.epoch === epoch && p.seq === seq)) return;
    const sameEpoch = known.find((p) => p.epoch === epoch);
    known.push({ epoch, seq });
    if (sameEpoch) {
      findings.add({
        property: 'numbering',
        rule: 'renumberedInEpoch',
        message: `${id} is numbered twice in epoch ${epoch} of ${this.name}: seq ${sameEpoch.seq} and seq ${seq}`,
        stream: this.name,
        eventIds: [id],
        t,
      });
    }
  }

  /** Where the id may stand in the expected order: its own place, then its republishes' (ascending). */
  candidates(id: string): number[] {
    const own = this.indexOf.get(id);
    return own === undefined ? [] : [own, ...(this.alternates.get(id) ?? [])];
  }

  /** The first place of the id at or after `after` (the last place seen), or undefined when all lie before it. */
  placeAfter(id: string, after: number | undefined): number | undefined {
    return this.candidates(id).find((c) => after === undefined || c >= after);
  }

  /** True when some place of `next` follows some place of `previous` with no distinct event between them. */
  private adjacent(previous: string, next: string): boolean {
    return this.candidates(previous).some((f) => this.candidates(next).some((t) => t > f && Math.floor(f) + 1 >= t));
  }

  /** True when a copy of the id may be numbered as a new event (Redis forgot the original: see `alternates`). */
  renumberable(id: string): boolean {
    return this.alternates.has(id);
  }

  /** Rule 3: consecutive seqs hold consecutive events of the expected order (a republished copy at its own place). */
  checkConsecutive(findings: Findings): void {
    for (const [epoch, seqs] of this.numbered) {
      for (const seq of [...seqs.keys()].sort((a, b) => a - b)) {
        const before = seqs.get(seq - 1);
        const after = seqs.get(seq);
        if (!before || !after || before.id === after.id) continue;
        const from = this.indexOf.get(before.id);
        const to = this.indexOf.get(after.id);
        // An id outside the expected order is reported by rule 4 already.
        if (from === undefined || to === undefined || this.adjacent(before.id, after.id)) continue;
        const t = Math.min(before.t ?? Infinity, after.t ?? Infinity);
        const base = { property: 'numbering', stream: this.name, t: Number.isFinite(t) ? t : undefined } as const;
        if (to > from + 1) {
          const skipped = this.expected.slice(from + 1, Math.min(to, from + 1 + MAX_LISTED)).map((e) => e.id);
          findings.add({
            ...base,
            rule: 'skipped',
            message:
              `${this.name} numbers ${before.id} at ${at({ seq: seq - 1, epoch })} and ${after.id} at ${seq}: ` +
              `the ${to - from - 1} event(s) published between them were skipped: ${list(skipped, to - from - 1)}`,
            eventIds: skipped,
          });
        } else {
          findings.add({
            ...base,
            rule: 'outOfOrder',
            message:
              `${this.name} numbers ${after.id} at ${at({ seq, epoch })} right after ${before.id} at ${seq - 1}, ` +
              `though ${after.id} was published first`,
            eventIds: [before.id, after.id],
          });
        }
      }
    }
  }

  /** The seqs from..to of one epoch not in `filled` (none when from > to), with the ids known there. */
  missing(epoch: string, from: number, to: number, filled: ReadonlySet<number> = new Set()): { text: string; ids: string[] } {
    const count = to - from + 1 - filled.size;
    const seqs: number[] = [];
    for (let seq = from; seq <= to && seqs.length < MAX_LISTED; seq += 1) if (!filled.has(seq)) seqs.push(seq);
    const ids = seqs.flatMap((seq) => this.idAt(epoch, seq) ?? []);
    const spread = filled.size > 0 ? list(seqs.map(String), count) : `${from}..${to}`;
    const which = count === 1 ? `seq ${seqs[0]}` : `seqs ${spread}`;
    return { text: `missing ${which} (${ids.length > 0 ? list(ids, count) : 'observed by no one'})`, ids };
  }

  private conflict(slot: Slot, id: string, position: Position, t: number | undefined, findings: Findings): void {
    const key = at(position);
    const others = this.conflicts.get(key) ?? new Set<string>();
    this.conflicts.set(key, others);
    if (others.has(id)) return;
    others.add(id);
    findings.add({
      property: 'numbering',
      rule: 'positionTaken',
      message: `${this.name} holds two events at ${key}: ${slot.id} and ${id}`,
      stream: this.name,
      eventIds: [slot.id, id],
      t,
    });
  }
}
