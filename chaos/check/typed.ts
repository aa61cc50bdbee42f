import type { Position, TypedClientRecord, TypedLogEntry } from '../history.js';
import { checkAtHead } from './at-head.js';
import { at, positionOf } from './position.js';
import { Scope, type Context } from './scope.js';
import { streamOf } from './streams.js';

interface Anchor extends Position {
  /** What set it: the rule a gap after it breaks depends on it. */
  from: 'join' | 'delivery' | 'resync';
}

/** One typed client in one stream, from a join to a leave. */
interface TypedSegment {
  scope: Scope;
  /** When the client entered the stream, or last resynced it. */
  from: number;
  /** Where the next delivery must follow on: a join, a delivery, or a resync's new position. */
  anchor?: Anchor;
  /** The last delivery, or the join position: what a resync is judged against. */
  before?: Position;
  resyncs: number;
  /** Resyncs since the last delivery, each with the position it is judged against. */
  pending: Array<{ t: number; before?: Position }>;
  delivered: Map<string, { epoch: string; resyncs: number }>;
  /** The expected-order index of the last first-time delivery (or of the join position's event). */
  last?: { index: number; id: string };
}

function typedSegment(scope: Scope, from: number, start?: Position): TypedSegment {
  const segment: TypedSegment = { scope, from, resyncs: 0, pending: [], delivered: new Map(), last: scope.indexAt(start) };
  if (start) {
    segment.anchor = { ...start, from: 'join' };
    segment.before = start;
  }
  return segment;
}

type Delivery = Extract<TypedLogEntry, { k: 'deliver' }>;

/** typedOrder rule 2: without a resync, each delivery follows the previous one (or the join position). */
function checkFollows(segment: TypedSegment, e: Delivery): void {
  const { anchor, scope } = segment;
  if (!anchor || (anchor.epoch === e.epoch && e.seq === anchor.seq + 1)) return;
  const rule = anchor.from === 'resync' ? 'gapAfterResync' : 'gapWithoutResync';
  const from = `${{ join: 'joined at ', delivery: '', resync: 'resync to ' }[anchor.from]}${at(anchor)} then ${e.eventId} at ${at(e)}`;
  if (anchor.epoch !== e.epoch) return scope.report('typedOrder', rule, `${from}: another epoch without resync`, [e.eventId], e.t);
  if (e.seq <= anchor.seq) return scope.report('typedOrder', rule, `${from}: went back`, [e.eventId], e.t);
  const gap = scope.index.missing(e.epoch, anchor.seq + 1, e.seq - 1);
  scope.report('typedOrder', rule, `${from}: ${gap.text}`, gap.ids.length > 0 ? gap.ids : [e.eventId], e.t);
}

function typedDeliver(segment: TypedSegment, e: Delivery): void {
  const { scope } = segment;
  const earlier = segment.delivered.get(e.eventId);
  // Rule 1: a second delivery is a replay only in a new epoch: after a resync, or a republished copy
  // numbered anew after Redis lost its window.
  const renumbered = earlier !== undefined && earlier.epoch !== e.epoch;
  if (earlier && !(renumbered && (segment.resyncs > earlier.resyncs || scope.index.renumberable(e.eventId)))) {
    const message = `${e.eventId} delivered twice (${at(e)}, first in epoch ${earlier.epoch})`;
    return scope.report('typedOrder', 'duplicate', message, [e.eventId], e.t);
  }
  segment.delivered.set(e.eventId, { epoch: e.epoch, resyncs: segment.resyncs });
  checkFollows(segment, e);
  // Rule 4: a resync between two consecutive positions was not needed.
  for (const { before, t } of segment.pending) {
    if (!before || before.epoch !== e.epoch || e.seq !== before.seq + 1) continue;
    const id = scope.index.idAt(before.epoch, before.seq);
    const message = `resync between ${at(before)} and ${e.eventId} at ${at(e)}, though nothing was missed`;
    scope.report('typedOrder', 'typedResync', message, id === undefined ? [e.eventId] : [id, e.eventId], t);
  }
  segment.pending = [];
  // Rule 3: events handed out for the first time follow the expected order.
  const own = scope.index.indexOf.get(e.eventId);
  if (!earlier && own !== undefined) {
    const last = segment.last;
    const i = scope.index.placeAfter(e.eventId, last?.index);
    if (last && i === undefined) {
      scope.report('typedOrder', 'inversion', `${e.eventId} after ${last.id}, though published before it`, [e.eventId, last.id], e.t);
    }
    segment.last = { index: i ?? own, id: e.eventId };
  }
  segment.anchor = { epoch: e.epoch, seq: e.seq, from: 'delivery' };
  segment.before = { epoch: e.epoch, seq: e.seq };
}

/** typedOrder, and completeness rule 2 for one typed client. */
export function checkTypedClient(client: TypedClientRecord, ctx: Context): void {
  const scope = (stream: string) => new Scope(ctx, `typed ${client.id}`, client.id, streamOf(ctx.streams, stream));
  const segments = new Map<string, TypedSegment>();
  const lastT = new Map<string, number>();
  // The notification cursor lives as long as the client: it is in its user stream from the start.
  segments.set(`user:${client.userId}`, typedSegment(scope(`user:${client.userId}`), client.log[0]?.t ?? Infinity));
  for (const e of client.log) {
    if (e.k === 'connect' || e.k === 'disconnect') continue;
    lastT.set(e.stream, e.t);
    const segment = segments.get(e.stream);
    if (e.k === 'join') {
      // joinTrip on a joined trip resolves with its earlier ack: the cursor carries on.
      if (!segment) segments.set(e.stream, typedSegment(scope(e.stream), e.t, positionOf(e)));
    } else if (e.k === 'leave' || e.k === 'removed') {
      if (segment) segment.scope.index.present(segment.from, e.t);
      segments.delete(e.stream);
    } else if (e.k === 'resync') {
      ctx.findings.check('typedOrder');
      if (!segment) continue;
      // Told to reload: what the client missed before is covered; it is judged from here on.
      segment.from = e.t;
      segment.resyncs += 1;
      segment.pending.push({ t: e.t, before: segment.before });
      const position = positionOf(e);
      segment.anchor = position && { ...position, from: 'resync' };
    } else {
      ctx.findings.check('typedOrder');
      if (segment) typedDeliver(segment, e);
      else scope(e.stream).report('typedOrder', 'notJoined', `${e.eventId} (${at(e)}) delivered while not joined`, [e.eventId], e.t);
    }
  }
  for (const segment of segments.values()) segment.scope.index.present(segment.from, client.final.connected ? Infinity : segment.from);
  if (!client.final.connected) return;
  for (const [stream, position] of Object.entries(client.final.streams)) {
    if (ctx.history.final.streams[stream]) checkAtHead(scope(stream), position ?? undefined, lastT.get(stream));
  }
}
