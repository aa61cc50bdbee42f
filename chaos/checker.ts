import type {
  ChaosHistory,
  FaultRecord,
  FinalStream,
  Position,
  PublishedRecord,
  RawClientRecord,
  RawLogEntry,
  TypedClientRecord,
  TypedLogEntry,
} from './history.js';

/**
 * Checks a recorded chaos run against the bridge's delivery promises. Pure: it reads a
 * `ChaosHistory` and nothing else, so a failing run can be re-checked from its JSON alone.
 */

/** The promises checked, in report order. */
export const PROPERTIES = ['numbering', 'typedOrder', 'rawOrder', 'completeness', 'deadLetters', 'health'] as const;
export type PropertyName = (typeof PROPERTIES)[number];

/** The rule of a property a violation breaks: stable names, for tests and for comparing runs. */
export type RuleName =
  // numbering
  | 'positionTaken'
  | 'renumberedInEpoch'
  | 'skipped'
  | 'outOfOrder'
  | 'notInStream'
  // typedOrder, rawOrder (typedResync: the client said events were lost when none were)
  | 'notJoined'
  | 'duplicate'
  | 'gapWithoutResync'
  | 'gapAfterResync'
  | 'inversion'
  | 'typedResync'
  // completeness
  | 'missed'
  | 'notAtHead'
  | 'notObserved'
  // deadLetters, health
  | 'queueNotEmpty'
  | 'missingDeadLetter'
  | 'wrongReason'
  | 'unexpectedDeadLetter'
  | 'unhealthy';

export interface Violation {
  property: PropertyName;
  rule: RuleName;
  message: string;
  client?: string;
  stream?: string;
  eventIds?: string[];
  t?: number;
}

export interface PropertyCount {
  checked: number;
  violations: number;
  /** Violations per rule broken. */
  rules: Partial<Record<RuleName, number>>;
}

export interface CheckReport {
  ok: boolean;
  /** Checked items and violations per property, e.g. { typedOrder: { checked: 1234, violations: 0 } } */
  counts: Record<PropertyName, PropertyCount>;
  /** The first violations of each property (capped), oldest first. */
  violations: Violation[];
  stats: {
    published: number;
    valid: number;
    invalid: number;
    republished: number;
    clients: { typed: number; raw: number };
    rawSessions: number;
    /** Typed deliveries and raw events. */
    deliveries: number;
    resyncs: number;
    /** (stream, event) pairs numbered in more than one epoch. */
    renumberedAfterStateLoss: number;
    /** (stream, event) pairs seen by no one, published when no client was in the stream then or later. */
    unobserved: number;
    faults: Record<string, number>;
  };
}

export interface CheckOptions {
  /** Violations kept in the report per property (all are counted); default 20. */
  maxViolationsPerProperty?: number;
}

/** Seqs and ids listed in one message at most. */
const MAX_LISTED = 10;

const at = (p: Position) => `${p.seq}@${p.epoch}`;
const list = (ids: string[], total = ids.length) => `${ids.join(', ')}${total > ids.length ? ', …' : ''}`;
const byTime = (a: Violation, b: Violation) => (a.t ?? Infinity) - (b.t ?? Infinity) || 0;

/** Counts every violation, keeps the oldest few of each property. */
class Findings {
  readonly counts = Object.fromEntries(
    PROPERTIES.map((p) => [p, { checked: 0, violations: 0, rules: {} }]),
  ) as Record<PropertyName, PropertyCount>;
  private readonly kept = new Map<PropertyName, Violation[]>(PROPERTIES.map((p) => [p, []]));

  constructor(private readonly cap: number) {}

  check(property: PropertyName, items = 1): void {
    this.counts[property].checked += items;
  }

  add(violation: Violation): void {
    const count = this.counts[violation.property];
    count.violations += 1;
    count.rules[violation.rule] = (count.rules[violation.rule] ?? 0) + 1;
    const kept = this.kept.get(violation.property) ?? [];
    kept.push(violation);
    // Trimmed now and then, so that a badly broken run does not hold every violation.
    if (kept.length >= 2 * this.cap + 64) this.kept.set(violation.property, kept.sort(byTime).slice(0, this.cap));
  }

  oldest(): Violation[] {
    return PROPERTIES.flatMap((p) => (this.kept.get(p) ?? []).sort(byTime).slice(0, this.cap)).sort(byTime);
  }
}

interface Slot {
  id: string;
  /** When it was first observed there; undefined when only the final tail holds it. */
  t?: number;
}

/** One stream: its expected order, and what every observation says its positions hold. */
class StreamIndex {
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

  /** Ids published to the stream again on purpose (the same id, the same body). */
  readonly republished = new Set<string>();
  /**
   * Slots (`seq@epoch`) of a republished id numbered again in a later epoch: Redis lost its
   * de-duplication window in between, so the copy counts as new. Order rules skip these slots.
   */
  readonly stale = new Set<string>();

  publish(id: string, t: number): void {
    if (this.indexOf.has(id)) {
      // A republish adds no position.
      this.republished.add(id);
      return;
    }
    this.indexOf.set(id, this.expected.length);
    this.expected.push({ id, t });
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

  /** Marks the slots of republished ids numbered again in a later epoch (see `stale`). */
  markStale(): void {
    for (const id of this.republished) {
      const positions = this.positions.get(id) ?? [];
      if (new Set(positions.map((p) => p.epoch)).size < 2) continue;
      const firstSeen = (p: Position) => this.numbered.get(p.epoch)?.get(p.seq)?.t ?? Infinity;
      const [, ...later] = [...positions].sort((a, b) => firstSeen(a) - firstSeen(b));
      for (const p of later) this.stale.add(at(p));
    }
  }

  isStale(position: Position): boolean {
    return this.stale.size > 0 && this.stale.has(at(position));
  }

  /** Rule 3: consecutive seqs hold consecutive events of the expected order (stale copies between them aside). */
  checkConsecutive(findings: Findings): void {
    for (const [epoch, seqs] of this.numbered) {
      for (const seq of [...seqs.keys()].sort((a, b) => a - b)) {
        const after = seqs.get(seq);
        if (this.isStale({ seq, epoch })) continue;
        let previous = seq - 1;
        while (this.isStale({ seq: previous, epoch })) previous -= 1;
        const before = seqs.get(previous);
        if (!before || !after || before.id === after.id) continue;
        const from = this.indexOf.get(before.id);
        const to = this.indexOf.get(after.id);
        // An id outside the expected order is reported by rule 4 already.
        if (from === undefined || to === undefined || to === from + 1) continue;
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

interface Context {
  history: ChaosHistory;
  findings: Findings;
  streams: Map<string, StreamIndex>;
  /** When Redis lost the bridge's state (restart, rollback). */
  stateLossAt: number[];
  stateLoss: FaultRecord[];
}

function streamOf(streams: Map<string, StreamIndex>, name: string): StreamIndex {
  let index = streams.get(name);
  if (!index) streams.set(name, (index = new StreamIndex(name)));
  return index;
}

const positionOf = (e: { seq?: number; epoch?: string }): Position | undefined =>
  e.seq !== undefined && e.epoch !== undefined ? { seq: e.seq, epoch: e.epoch } : undefined;

/** Expected orders from the publisher's log, then every observation into the global mapping. */
function indexStreams(history: ChaosHistory, findings: Findings): Map<string, StreamIndex> {
  const streams = new Map<string, StreamIndex>();
  for (const record of history.published) {
    if (record.valid) for (const stream of record.streams) streamOf(streams, stream).publish(record.id, record.t);
  }
  for (const client of history.clients) {
    const logs = client.kind === 'typed' ? [client.log] : client.sessions.map((s) => s.log);
    for (const log of logs) {
      for (const e of log as Array<TypedLogEntry | RawLogEntry>) {
        if (e.k === 'deliver' || e.k === 'event') streamOf(streams, e.stream).observe(e.eventId, e, e.t, findings);
      }
    }
  }
  for (const [stream, final] of Object.entries(history.final.streams)) {
    const index = streamOf(streams, stream);
    for (const e of final.tail) index.observe(e.eventId, { seq: e.seq, epoch: final.head.epoch }, undefined, findings);
  }
  for (const index of streams.values()) {
    index.markStale();
    index.checkConsecutive(findings);
  }
  return streams;
}

/** One client in one stream: what a violation found there names. */
class Scope {
  constructor(
    readonly ctx: Context,
    readonly who: string,
    readonly client: string,
    readonly index: StreamIndex,
  ) {}

  report(property: PropertyName, rule: RuleName, message: string, eventIds: string[] | undefined, t: number | undefined): void {
    const stream = this.index.name;
    this.ctx.findings.add({ property, rule, message: `${this.who} in ${stream}: ${message}`, client: this.client, stream, eventIds, t });
  }

  /** The expected-order index of the event numbered at `position`, when known. */
  indexAt(position: Position | undefined): { index: number; id: string } | undefined {
    const id = position && this.index.idAt(position.epoch, position.seq);
    const index = id === undefined ? undefined : this.index.indexOf.get(id);
    return id === undefined || index === undefined ? undefined : { index, id };
  }
}

/**
 * Completeness rule 2: a client still in a trip at the end stands at its head. A client learns of
 * a new epoch only from an event or a rejoin, so another epoch is excused by a state loss after
 * its last event there.
 */
function checkAtHead(scope: Scope, position: Position | undefined, lastT: number | undefined): void {
  const { ctx, index } = scope;
  const head = (ctx.history.final.streams[index.name] as FinalStream).head;
  ctx.findings.check('completeness');
  const report = (message: string, eventIds?: string[]) =>
    scope.report('completeness', 'notAtHead', message, eventIds, ctx.history.endedAt);
  if (!position) return report(`ends with no position; the head is ${at(head)}`);
  if (position.epoch === head.epoch) {
    if (position.seq === head.seq) return;
    if (position.seq > head.seq) return report(`ends at ${at(position)}, past the head ${at(head)}`);
    const gap = index.missing(head.epoch, position.seq + 1, head.seq);
    return report(`ends at ${at(position)}, behind the head ${at(head)}: ${gap.text}`, gap.ids);
  }
  if (lastT !== undefined && ctx.stateLossAt.some((t) => t >= lastT)) return;
  report(`ends at ${at(position)}, the head is ${at(head)}, and no redis-restart or redis-rollback came after its last event`);
}

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
  const stale = scope.index.isStale(e);
  // Rule 1: a second delivery is a replay only after a resync, renumbered in a new epoch (or a stale copy).
  if (earlier && !stale && !(segment.resyncs > earlier.resyncs && earlier.epoch !== e.epoch)) {
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
  const i = scope.index.indexOf.get(e.eventId);
  if (!earlier && !stale && i !== undefined) {
    const last = segment.last;
    if (last && i < last.index) {
      scope.report('typedOrder', 'inversion', `${e.eventId} after ${last.id}, though published before it`, [e.eventId, last.id], e.t);
    }
    segment.last = { index: i, id: e.eventId };
  }
  segment.anchor = { epoch: e.epoch, seq: e.seq, from: 'delivery' };
  segment.before = { epoch: e.epoch, seq: e.seq };
}

/** typedOrder, and completeness rule 2 for one typed client. */
function checkTypedClient(client: TypedClientRecord, ctx: Context): void {
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
  seen: Set<string>;
  last?: { index: number; id: string };
  /** Per epoch, in seq order. */
  gaps: Map<string, Gap[]>;
  lastT: number;
}

function rawSegment(scope: Scope, e: Extract<RawLogEntry, { k: 'joined' }>): RawSegment {
  // A recovered join replays from `since`: the first event follows it, not the ack's head.
  const position = e.recovered && e.since ? e.since : positionOf(e);
  return { scope, from: e.t, position, seen: new Set(), last: scope.indexAt(position), gaps: new Map(), lastT: e.t };
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
  // A republished copy numbered again after Redis lost its window is neither a repeat nor out of order.
  const stale = scope.index.isStale(e);
  if (segment.seen.has(e.eventId) && !stale) {
    return scope.report('rawOrder', 'duplicate', `${e.eventId} (${at(e)}) received twice`, [e.eventId], e.t);
  }
  segment.seen.add(e.eventId);
  const i = scope.index.indexOf.get(e.eventId);
  if (i !== undefined && !stale) {
    const last = segment.last;
    if (last && i < last.index) {
      scope.report('rawOrder', 'inversion', `${e.eventId} after ${last.id}, though published before it`, [e.eventId, last.id], e.t);
    }
    segment.last = { index: i, id: e.eventId };
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
function checkRawClient(client: RawClientRecord, ctx: Context): void {
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

/**
 * Completeness rule 3: every event reached someone, when someone was in its stream from before it was
 * published to the end of the run without being told to reload since (a resync, a new epoch), and no
 * loss of Redis's state came after it (an event numbered just before Redis lost its data may reach
 * nobody: clients learn of it by the new epoch). The other unobserved events are counted, not
 * reported: the gap rules judge every client that saw past them.
 */
function checkObserved(ctx: Context): number {
  let unobserved = 0;
  const lastLoss = Math.max(-Infinity, ...ctx.stateLoss.map((f) => f.until ?? f.at));
  for (const index of ctx.streams.values()) {
    ctx.findings.check('completeness', index.expected.length);
    for (const { id, t } of index.expected) {
      if (index.positions.has(id)) continue;
      if (t < index.stayedFrom || t <= lastLoss) {
        unobserved += 1;
        continue;
      }
      ctx.findings.add({
        property: 'completeness',
        rule: 'notObserved',
        message: `${id}, published to ${index.name} while a client stayed in it to the end, reached no client and is not in the final tail`,
        stream: index.name,
        eventIds: [id],
        t,
      });
    }
  }
  return unobserved;
}

function checkDeadLetters(history: ChaosHistory, findings: Findings): void {
  const report = (rule: RuleName, message: string, id?: string, t?: number) =>
    findings.add({ property: 'deadLetters', rule, message, eventIds: id === undefined ? undefined : [id], t });
  findings.check('deadLetters');
  const { queueMessages, deadLetters } = history.final;
  if (queueMessages !== 0) report('queueNotEmpty', `${queueMessages} message(s) left in the bridge queue after healing`);
  const invalid = new Map<string, PublishedRecord>();
  for (const record of history.published) if (!record.valid) invalid.set(record.id, record);
  const reasons = new Map<string, Array<string | undefined>>();
  for (const letter of deadLetters) {
    findings.check('deadLetters');
    if (letter.id === undefined || !invalid.has(letter.id)) {
      const what = letter.id === undefined ? 'without an id' : `${letter.id}, which was not published invalid`;
      const detail = letter.detail ? `: ${letter.detail}` : '';
      report('unexpectedDeadLetter', `dead letter ${what} (reason ${letter.reason ?? 'none'}${detail})`, letter.id);
      continue;
    }
    reasons.set(letter.id, [...(reasons.get(letter.id) ?? []), letter.reason]);
  }
  for (const record of invalid.values()) {
    findings.check('deadLetters');
    const got = reasons.get(record.id);
    if (!got) report('missingDeadLetter', `invalid ${record.type} ${record.id} is not in the dead-letter queue`, record.id, record.t);
    else if (record.expectedReason !== undefined && !got.includes(record.expectedReason)) {
      const message = `invalid ${record.id} was dead-lettered as ${got.join(', ')}, expected ${record.expectedReason}`;
      report('wrongReason', message, record.id, record.t);
    }
  }
}

function checkHealth(history: ChaosHistory, findings: Findings): void {
  for (const [instance, status] of Object.entries(history.final.health)) {
    findings.check('health');
    if (status === 200) continue;
    findings.add({ property: 'health', rule: 'unhealthy', message: `instance ${instance} answers ${status} on /health after healing` });
  }
}

/** Checks a chaos history against the bridge's delivery promises. */
export function checkHistory(history: ChaosHistory, options: CheckOptions = {}): CheckReport {
  const cap = options.maxViolationsPerProperty ?? 20;
  if (!Number.isInteger(cap) || cap < 0) throw new RangeError(`maxViolationsPerProperty must be a non-negative integer, got ${cap}`);
  const findings = new Findings(cap);
  const streams = indexStreams(history, findings);
  const stateLoss = history.faults.filter((f) => f.kind === 'redis-restart' || f.kind === 'redis-rollback');
  const ctx: Context = { history, findings, streams, stateLossAt: stateLoss.map((f) => f.at), stateLoss };
  let deliveries = 0;
  let resyncs = 0;
  for (const client of history.clients) {
    if (client.kind === 'typed') {
      checkTypedClient(client, ctx);
      for (const e of client.log) {
        if (e.k === 'deliver') deliveries += 1;
        else if (e.k === 'resync') resyncs += 1;
      }
    } else {
      checkRawClient(client, ctx);
      for (const session of client.sessions) deliveries += session.log.filter((e) => e.k === 'event').length;
    }
  }
  const unobserved = checkObserved(ctx);
  checkDeadLetters(history, findings);
  checkHealth(history, findings);

  let renumbered = 0;
  for (const index of streams.values()) {
    for (const positions of index.positions.values()) if (positions.some((p) => p.epoch !== positions[0]?.epoch)) renumbered += 1;
  }
  const faults: Record<string, number> = {};
  for (const fault of history.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;
  const typed = history.clients.filter((c) => c.kind === 'typed').length;
  const valid = history.published.filter((r) => r.valid).length;
  return {
    ok: PROPERTIES.every((p) => findings.counts[p].violations === 0),
    counts: findings.counts,
    violations: findings.oldest(),
    stats: {
      published: history.published.length,
      valid,
      invalid: history.published.length - valid,
      republished: history.published.filter((r) => r.republish).length,
      clients: { typed, raw: history.clients.length - typed },
      rawSessions: history.clients.reduce((n, c) => n + (c.kind === 'raw' ? c.sessions.length : 0), 0),
      deliveries,
      resyncs,
      renumberedAfterStateLoss: renumbered,
      unobserved,
      faults,
    },
  };
}

/** The report for people: counts per property, the first violations with their ids, the fault schedule. */
export function formatReport(report: CheckReport, history: ChaosHistory): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const rel = (t: number) => `+${seconds(t - history.startedAt)}`;
  const s = report.stats;
  const lines = [
    `chaos check ${report.ok ? 'passed' : 'FAILED'}: seed ${history.seed}, ` +
      `${seconds(history.endedAt - history.startedAt)}, instances ${history.instances.join(', ')}`,
    `published ${s.published} (${s.valid} valid, ${s.invalid} invalid, ${s.republished} republished); ` +
      `${s.clients.typed} typed and ${s.clients.raw} raw clients (${s.rawSessions} raw sessions)`,
    `${s.deliveries} deliveries, ${s.resyncs} resyncs, ${s.renumberedAfterStateLoss} renumbered after state loss, ` +
      `${s.unobserved} unobserved (nobody stayed in the stream, or Redis lost its state after them)`,
    '',
    `${'property'.padEnd(14)}${'checked'.padStart(10)}${'violations'.padStart(12)}`,
  ];
  for (const p of PROPERTIES) {
    const { checked, violations, rules } = report.counts[p];
    const byRule = Object.entries(rules).map(([rule, n]) => `${rule} ${n}`).join(', ');
    lines.push(`${p.padEnd(14)}${String(checked).padStart(10)}${String(violations).padStart(12)}${byRule ? `  (${byRule})` : ''}`);
  }
  for (const p of PROPERTIES) {
    const shown = report.violations.filter((v) => v.property === p);
    if (shown.length === 0) continue;
    lines.push('', `${p}: first ${shown.length} of ${report.counts[p].violations}`);
    for (const v of shown) {
      lines.push(`  ${v.t === undefined ? 'end' : rel(v.t)} [${v.rule}] ${v.message}`);
      if (v.eventIds && v.eventIds.length > 0) lines.push(`      ids: ${v.eventIds.join(', ')}`);
    }
  }
  lines.push('', `faults (healing from ${rel(history.healedAt)}):`);
  if (history.faults.length === 0) lines.push('  none');
  for (const f of [...history.faults].sort((a, b) => a.at - b.at)) {
    const until = f.until === undefined ? '' : ` (until ${rel(f.until)})`;
    lines.push(`  ${rel(f.at)} ${f.kind}${f.target ? ` ${f.target}` : ''}${until}${f.detail ? `: ${f.detail}` : ''}`);
  }
  return lines.join('\n');
}
