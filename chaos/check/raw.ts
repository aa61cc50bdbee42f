import type { Position, RawClientRecord, RawLogEntry } from '../history.js';
import { checkAtHead } from './at-head.js';
import { at, positionOf } from './position.js';
import { Scope, type Context } from './scope.js';
import { streamOf } from './streams.js';

/** Seqs a raw segment jumped over: a late arrival fills one; what is still open at its end was missed. */
interface Gap {
  before: Position;
  next: { eventId: string; seq: number; epoch: string };
  filled: Set<number>;
  t: number;
}

/** One raw session in one stream, from a `joined` to a `left`. */
interface RawSegment {
  scope: Scope;
  /** When the session entered the stream, or last saw it start a new epoch. */
  from: number;
  /** The furthest position reached in the current epoch: the joined (or since) position, then events. */
  position?: Position;
  /** The ids received, with the epoch they first came in. */
  seen: Map<string, string>;
  last?: { index: number; id: string };
  /** Per epoch, in seq order. */
  gaps: Map<string, Gap[]>;
  lastT: number;
}

function rawSegment(scope: Scope, e: Extract<RawLogEntry, { k: 'joined' }>): RawSegment {
  // A recovered join replays from `since`: the first event follows it, not the ack's head.
  const position = e.recovered && e.since ? e.since : positionOf(e);
  return { scope, from: e.t, position, seen: new Map(), last: scope.indexAt(position), gaps: new Map(), lastT: e.t };
}

/** The gap of one epoch that holds `seq`, if any (binary search: gaps come in seq order). */
function gapHolding(gaps: Gap[], seq: number): Gap | undefined {
  let low = 0;
  let high = gaps.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const gap = gaps[mid] as Gap;
    if (seq <= gap.before.seq) high = mid - 1;
    else if (seq >= gap.next.seq) low = mid + 1;
    else return gap;
  }
  return undefined;
}

function rawEvent(segment: RawSegment, e: Extract<RawLogEntry, { k: 'event' }>): void {
  const { scope } = segment;
  scope.ctx.findings.check('completeness');
  segment.lastT = e.t;
  // A republished copy numbered anew after Redis lost its window, in a later epoch, is not a repeat.
  const first = segment.seen.get(e.eventId);
  const copy = first !== undefined && first !== e.epoch && scope.index.renumberable(e.eventId);
  if (first !== undefined && !copy) {
    return scope.report('rawOrder', 'duplicate', `${e.eventId} (${at(e)}) received twice`, [e.eventId], e.t);
  }
  segment.seen.set(e.eventId, first ?? e.epoch);
  const own = scope.index.indexOf.get(e.eventId);
  if (own !== undefined) {
    const last = segment.last;
    const i = scope.index.placeAfter(e.eventId, last?.index);
    if (last && i === undefined) {
      scope.report('rawOrder', 'inversion', `${e.eventId} after ${last.id}, though published before it`, [e.eventId, last.id], e.t);
    }
    segment.last = { index: i ?? own, id: e.eventId };
  }
  // Completeness rule 1: contiguous within an epoch; a new epoch may start anywhere.
  const position = segment.position;
  if (!position || position.epoch !== e.epoch || e.seq > position.seq) {
    // A new epoch tells the client that what came before it may be gone: it is judged from here on.
    if (position && position.epoch !== e.epoch) segment.from = e.t;
    if (position?.epoch === e.epoch && e.seq > position.seq + 1) {
      const gaps = segment.gaps.get(e.epoch) ?? [];
      segment.gaps.set(e.epoch, gaps);
      gaps.push({ before: position, next: e, filled: new Set(), t: e.t });
    }
    segment.position = { seq: e.seq, epoch: e.epoch };
  } else {
    // Late, not lost: rawOrder reports the inversion.
    gapHolding(segment.gaps.get(e.epoch) ?? [], e.seq)?.filled.add(e.seq);
  }
}

/** Completeness rule 1 at the end of a raw segment: the seqs it jumped over and never got. */
function closeRawSegment(segment: RawSegment): void {
  const { scope } = segment;
  for (const gaps of segment.gaps.values()) {
    for (const { before, next, filled, t } of gaps) {
      if (filled.size === next.seq - before.seq - 1) continue;
      const gap = scope.index.missing(next.epoch, before.seq + 1, next.seq - 1, filled);
      const message = `${at(before)} then ${next.eventId} at ${at(next)}: ${gap.text}`;
      scope.report('completeness', 'missed', message, gap.ids.length > 0 ? gap.ids : [next.eventId], t);
    }
  }
}

/** rawOrder, and completeness rules 1 and 2 for one raw client. */
export function checkRawClient(client: RawClientRecord, ctx: Context): void {
  client.sessions.forEach((session, n) => {
    const who = `raw ${client.id}#${n + 1} (${session.instance})`;
    const segments = new Map<string, RawSegment>();
    /** Ends a segment at `t` (Infinity: still in the stream at the end of the run). */
    const close = (stream: string, t: number) => {
      const segment = segments.get(stream);
      if (!segment) return;
      segments.delete(stream);
      segment.scope.index.present(segment.from, t);
      closeRawSegment(segment);
      if (t === Infinity && stream.startsWith('trip:') && ctx.history.final.streams[stream]) {
        checkAtHead(segment.scope, segment.position, segment.lastT);
      }
    };
    for (const e of session.log) {
      if (e.k === 'joined') {
        close(e.stream, e.t);
        segments.set(e.stream, rawSegment(new Scope(ctx, who, client.id, streamOf(ctx.streams, e.stream)), e));
      } else if (e.k === 'left') {
        close(e.stream, e.t);
      } else {
        ctx.findings.check('rawOrder');
        const segment = segments.get(e.stream);
        if (segment) rawEvent(segment, e);
        else {
          const scope = new Scope(ctx, who, client.id, streamOf(ctx.streams, e.stream));
          scope.report('rawOrder', 'notJoined', `${e.eventId} (${at(e)}) received while not joined`, [e.eventId], e.t);
        }
      }
    }
    for (const stream of [...segments.keys()]) close(stream, session.disconnectedAt ?? Infinity);
  });
}
