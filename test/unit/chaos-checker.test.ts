import { describe, it, expect } from 'vitest';
import {
  checkHistory,
  formatReport,
  PROPERTIES,
  type PropertyName,
  type RuleName,
  type Violation,
} from '../../chaos/check/index.js';
import type {
  ChaosHistory,
  DeadLetterRecord,
  FaultKind,
  Position,
  PublishedRecord,
  RawLogEntry,
  RawSession,
  TypedClientRecord,
  TypedLogEntry,
} from '../../chaos/history.js';

const T0 = Date.UTC(2026, 11, 1, 10);
const pos = (seq: number, epoch = 'e1'): Position => ({ seq, epoch });

/** Records a chaos history step by step; every step takes the next 100 ms, so logs are in time order. */
class HistoryBuilder {
  private now = T0;
  private healed?: number;
  private readonly history: ChaosHistory = {
    seed: 7,
    startedAt: T0,
    endedAt: T0,
    healedAt: T0,
    instances: ['i1', 'i2'],
    published: [],
    clients: [],
    faults: [],
    final: { queueMessages: 0, deadLetters: [], health: { i1: 200, i2: 200 }, streams: {} },
  };

  tick(): number {
    this.now += 100;
    return this.now;
  }

  publish(id: string, stream: string, extra: Partial<PublishedRecord> = {}): this {
    const type = stream.startsWith('user:') ? 'notification.created' : 'trip.updated';
    this.history.published.push({ id, type, streams: [stream], valid: true, t: this.tick(), ...extra });
    return this;
  }

  /** An invalid event; it must be dead-lettered with `reason`. */
  invalid(id: string, reason = 'invalid_data'): this {
    this.history.published.push({ id, type: 'trip.updated', streams: [], valid: false, expectedReason: reason, t: this.tick() });
    return this;
  }

  deadLetter(letter: DeadLetterRecord): this {
    this.history.final.deadLetters.push(letter);
    return this;
  }

  fault(kind: FaultKind, extra: { at?: number; until?: number; target?: string; detail?: string } = {}): this {
    this.history.faults.push({ kind, at: extra.at ?? this.tick(), ...extra });
    return this;
  }

  /** The final audit of a trip: its head and the ids of its last events (up to the head). */
  head(stream: string, head: Position, tail: string[]): this {
    const first = head.seq - tail.length + 1;
    this.history.final.streams[stream] = { head, tail: tail.map((eventId, i) => ({ seq: first + i, eventId })) };
    return this;
  }

  final(patch: Partial<Pick<ChaosHistory['final'], 'queueMessages' | 'health'>>): this {
    Object.assign(this.history.final, patch);
    return this;
  }

  heal(): this {
    this.healed = this.tick();
    return this;
  }

  typed(id: string, userId: string): TypedBuilder {
    const record: TypedClientRecord = { kind: 'typed', id, userId, log: [], final: { connected: false, streams: {} } };
    this.history.clients.push(record);
    return new TypedBuilder(this, record);
  }

  raw(id: string, userId: string): RawBuilder {
    const record = { kind: 'raw' as const, id, userId, sessions: [] as RawSession[] };
    this.history.clients.push(record);
    return new RawBuilder(this, record.sessions);
  }

  build(): ChaosHistory {
    this.history.healedAt = this.healed ?? this.tick();
    this.history.endedAt = this.tick();
    return this.history;
  }
}

type Untimed<E> = E extends unknown ? Omit<E, 't'> : never;

class TypedBuilder {
  constructor(
    private readonly b: HistoryBuilder,
    private readonly record: TypedClientRecord,
  ) {}

  private log(entry: Untimed<TypedLogEntry>): this {
    this.record.log.push({ t: this.b.tick(), ...entry } as TypedLogEntry);
    return this;
  }

  join(stream: string, seq: number, epoch = 'e1') {
    return this.log({ k: 'join', stream, seq, epoch });
  }

  deliver(stream: string, eventId: string, seq: number, epoch = 'e1') {
    return this.log({ k: 'deliver', stream, eventId, seq, epoch });
  }

  resync(stream: string, position?: Position) {
    return this.log({ k: 'resync', stream, ...position });
  }

  leave(stream: string) {
    return this.log({ k: 'leave', stream });
  }

  removed(stream: string) {
    return this.log({ k: 'removed', stream, reason: 'removed' });
  }

  connect(instance: string) {
    return this.log({ k: 'connect', instance });
  }

  disconnect(reason = 'transport close') {
    return this.log({ k: 'disconnect', reason });
  }

  final(connected: boolean, streams: Record<string, Position | null>): this {
    this.record.final = { connected, streams };
    return this;
  }
}

class RawBuilder {
  constructor(
    private readonly b: HistoryBuilder,
    private readonly sessions: RawSession[],
  ) {}

  session(instance: string): SessionBuilder {
    const session: RawSession = { instance, connectedAt: this.b.tick(), log: [] };
    this.sessions.push(session);
    return new SessionBuilder(this.b, session);
  }
}

class SessionBuilder {
  constructor(
    private readonly b: HistoryBuilder,
    private readonly session: RawSession,
  ) {}

  private log(entry: Untimed<RawLogEntry>): this {
    this.session.log.push({ t: this.b.tick(), ...entry } as RawLogEntry);
    return this;
  }

  /** A `trip:join` ack (with a position), or the user stream's `connected` (without). */
  joined(stream: string, position?: Position, extra: { since?: Position; recovered?: boolean } = {}) {
    return this.log({ k: 'joined', stream, ...position, ...extra });
  }

  event(stream: string, eventId: string, seq: number, epoch = 'e1') {
    return this.log({ k: 'event', stream, eventId, seq, epoch });
  }

  left(stream: string, reason = 'left') {
    return this.log({ k: 'left', stream, reason });
  }

  disconnect(): this {
    this.session.disconnectedAt = this.b.tick();
    return this;
  }
}

/**
 * Two trips, one user stream, a typed and a raw client (two sessions, one recovered), a republish,
 * an invalid event in the dead-letter queue, a sigkill, and a resync across a Redis restart.
 */
function cleanHistory(): ChaosHistory {
  const b = new HistoryBuilder();
  const typed = b.typed('t1', 'u1').connect('i1').join('trip:a', 0).join('trip:b', 0);
  const raw = b.raw('r1', 'u2');
  const first = raw.session('i1').joined('user:u2').joined('trip:a', pos(0));
  b.publish('a1', 'trip:a');
  typed.deliver('trip:a', 'a1', 1);
  first.event('trip:a', 'a1', 1);
  b.publish('b1', 'trip:b');
  typed.deliver('trip:b', 'b1', 1);
  b.publish('n1', 'user:u1');
  typed.deliver('user:u1', 'n1', 1);
  b.publish('a2', 'trip:a');
  typed.deliver('trip:a', 'a2', 2);
  first.event('trip:a', 'a2', 2);
  b.publish('a1', 'trip:a', { republish: true });
  b.invalid('bad1', 'invalid_data').deadLetter({ id: 'bad1', reason: 'invalid_data', detail: 'data.tripId' });
  b.fault('sigkill', { target: 'i1' });
  first.disconnect();
  typed.disconnect().connect('i2');
  const second = raw.session('i2').joined('user:u2').joined('trip:a', pos(2), { since: pos(2), recovered: true });
  b.publish('a3', 'trip:a');
  typed.deliver('trip:a', 'a3', 3);
  second.event('trip:a', 'a3', 3);
  b.publish('b2', 'trip:b');
  typed.deliver('trip:b', 'b2', 2);
  b.publish('n2', 'user:u1');
  typed.deliver('user:u1', 'n2', 2);
  b.fault('redis-restart');
  b.publish('a4', 'trip:a');
  typed.resync('trip:a', pos(0, 'e2')).deliver('trip:a', 'a4', 1, 'e2');
  second.event('trip:a', 'a4', 1, 'e2');
  b.publish('a5', 'trip:a');
  typed.deliver('trip:a', 'a5', 2, 'e2');
  second.event('trip:a', 'a5', 2, 'e2');
  b.heal();
  typed.final(true, { 'trip:a': pos(2, 'e2'), 'trip:b': pos(2) });
  b.head('trip:a', pos(2, 'e2'), ['a4', 'a5']).head('trip:b', pos(2), ['b1', 'b2']);
  return b.build();
}

/** Checks a history and expects exactly one rule of one property to be broken; returns its violations. */
function brokenOnly(history: ChaosHistory, property: PropertyName, rule: RuleName): Violation[] {
  const report = checkHistory(history);
  expect(report.ok).toBe(false);
  expect(PROPERTIES.filter((p) => report.counts[p].violations > 0)).toEqual([property]);
  expect([...new Set(report.violations.map((v) => `${v.property}.${v.rule}`))]).toEqual([`${property}.${rule}`]);
  return report.violations;
}

/** A raw session that saw a1..aN of trip:a in epoch e1 and left: the numbering the other client is judged by. */
function witness(b: HistoryBuilder, count: number): void {
  const session = b.raw('witness', 'u9').session('i2').joined('trip:a', pos(0));
  for (let seq = 1; seq <= count; seq += 1) session.event('trip:a', `a${seq}`, seq);
  session.disconnect();
}

function publishTrip(b: HistoryBuilder, count: number): void {
  for (let seq = 1; seq <= count; seq += 1) b.publish(`a${seq}`, 'trip:a');
}

describe('checkHistory: a clean run', () => {
  it('passes a history that keeps every promise, with its stats', () => {
    const report = checkHistory(cleanHistory());
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    for (const p of PROPERTIES) expect(report.counts[p].checked, p).toBeGreaterThan(0);
    expect(report.stats).toEqual({
      published: 11,
      valid: 10,
      invalid: 1,
      republished: 1,
      clients: { typed: 1, raw: 1 },
      rawSessions: 2,
      deliveries: 14,
      resyncs: 1,
      renumberedAfterStateLoss: 0,
      unobserved: 0,
      faults: { sigkill: 1, 'redis-restart': 1 },
    });
  });
});

describe('checkHistory: numbering', () => {
  it('two events at one position of a stream are a numbering violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1);
    raw.event('trip:a', 'a2', 1);
    const [violation] = brokenOnly(b.build(), 'numbering', 'positionTaken');
    expect(violation?.eventIds).toEqual(['a1', 'a2']);
    expect(violation?.message).toContain('1@e1');
  });

  it('an event numbered twice in one epoch is a numbering violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'a2', 2);
    b.raw('r1', 'u2').session('i1').joined('trip:a', pos(2)).event('trip:a', 'a2', 3);
    const [violation] = brokenOnly(b.build(), 'numbering', 'renumberedInEpoch');
    expect(violation?.message).toMatch(/a2 is numbered twice in epoch e1 of trip:a: seq 2 and seq 3/);
  });

  it('an event numbered in two epochs is allowed, and counted as renumbered after state loss', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 1);
    typed.deliver('trip:a', 'a1', 1);
    b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0, 'e2')).event('trip:a', 'a1', 1, 'e2');
    const report = checkHistory(b.build());
    expect(report.violations).toEqual([]);
    expect(report.stats.renumberedAfterStateLoss).toBe(1);
  });

  it('consecutive seqs that skip a published event are a numbering violation naming the skipped ids', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 4);
    b.head('trip:a', pos(2), ['a1', 'a4']);
    const [violation] = brokenOnly(b.build(), 'numbering', 'skipped');
    expect(violation?.eventIds).toEqual(['a2', 'a3']);
  });

  it('consecutive seqs in the reverse of publish order are a numbering violation', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 2);
    b.head('trip:a', pos(2), ['a2', 'a1']);
    const [violation] = brokenOnly(b.build(), 'numbering', 'outOfOrder');
    expect(violation?.eventIds).toEqual(['a2', 'a1']);
  });

  it('an event observed in a stream it was not published to is a numbering violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    b.publish('a1', 'trip:a').publish('x1', 'trip:b');
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'x1', 2);
    const [violation] = brokenOnly(b.build(), 'numbering', 'notInStream');
    expect(violation).toMatchObject({ stream: 'trip:a', eventIds: ['x1'] });
  });

  it('an invalid event observed in a stream is a numbering violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    b.publish('a1', 'trip:a').invalid('bad1').deadLetter({ id: 'bad1', reason: 'invalid_data' });
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'bad1', 2);
    const [violation] = brokenOnly(b.build(), 'numbering', 'notInStream');
    expect(violation?.eventIds).toEqual(['bad1']);
  });
});

describe('checkHistory: typedOrder', () => {
  it('a typed delivery in a trip the client never joined is a typedOrder violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1');
    publishTrip(b, 1);
    typed.deliver('trip:a', 'a1', 1);
    const [violation] = brokenOnly(b.build(), 'typedOrder', 'notJoined');
    expect(violation).toMatchObject({ client: 't1', stream: 'trip:a', eventIds: ['a1'] });
  });

  it('a typed delivery after the server removed the client is a typedOrder violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).removed('trip:a').deliver('trip:a', 'a2', 2);
    expect(brokenOnly(b.build(), 'typedOrder', 'notJoined')[0]?.eventIds).toEqual(['a2']);
  });

  it('a notification of another user is delivered outside any segment', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1');
    b.publish('n1', 'user:u2');
    typed.deliver('user:u2', 'n1', 1);
    brokenOnly(b.build(), 'typedOrder', 'notJoined');
  });

  it('a typed client given one event twice without a resync has a duplicate', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'a1', 1).deliver('trip:a', 'a2', 2);
    const violations = brokenOnly(b.build(), 'typedOrder', 'duplicate');
    expect(violations).toHaveLength(1);
    expect(violations[0]?.eventIds).toEqual(['a1']);
  });

  it('an event delivered again after a resync, renumbered in a new epoch, is not a duplicate', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 1);
    typed.deliver('trip:a', 'a1', 1).resync('trip:a', pos(0, 'e2')).deliver('trip:a', 'a1', 1, 'e2');
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('a typed client whose seq jumps without resync has a gap naming the missing ids', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 3);
    witness(b, 3);
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'a3', 3);
    const [violation] = brokenOnly(b.build(), 'typedOrder', 'gapWithoutResync');
    expect(violation?.eventIds).toEqual(['a2']);
    expect(violation?.message).toContain('missing seq 2 (a2)');
  });

  it("a typed client's first delivery must follow its join position", () => {
    const b = new HistoryBuilder();
    publishTrip(b, 3);
    witness(b, 3);
    b.typed('t1', 'u1').join('trip:a', 1).deliver('trip:a', 'a3', 3);
    const [violation] = brokenOnly(b.build(), 'typedOrder', 'gapWithoutResync');
    expect(violation?.message).toMatch(/joined at 1@e1 then a3 at 3@e1: missing seq 2 \(a2\)/);
  });

  it('a typed client that moves to another epoch without resync has a gap', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'a2', 1, 'e2');
    expect(brokenOnly(b.build(), 'typedOrder', 'gapWithoutResync')[0]?.message).toContain('another epoch');
  });

  it('a typed client given an event published before one it already had sees an inversion', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 3);
    witness(b, 3);
    b.typed('t1', 'u1')
      .join('trip:a', 1)
      .deliver('trip:a', 'a2', 2)
      .deliver('trip:a', 'a3', 3)
      .resync('trip:a', pos(0, 'e2'))
      .deliver('trip:a', 'a1', 1, 'e2');
    const [violation] = brokenOnly(b.build(), 'typedOrder', 'inversion');
    expect(violation?.message).toContain('a1 after a3');
  });

  it('a resync with nothing missed is unjustified', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).resync('trip:a', pos(1)).deliver('trip:a', 'a2', 2);
    const [violation] = brokenOnly(b.build(), 'typedOrder', 'typedResync');
    expect(violation?.eventIds).toEqual(['a1', 'a2']);
  });

  it('a notifications resync with nothing missed is unjustified', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1');
    b.publish('n1', 'user:u1').publish('n2', 'user:u1');
    typed.deliver('user:u1', 'n1', 1).resync('user:u1').deliver('user:u1', 'n2', 2);
    brokenOnly(b.build(), 'typedOrder', 'typedResync');
  });

  it('a resync over events the client did miss is justified', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 3);
    witness(b, 3);
    b.typed('t1', 'u1').join('trip:a', 0).deliver('trip:a', 'a1', 1).resync('trip:a', pos(2)).deliver('trip:a', 'a3', 3);
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('after a resync the next delivery must follow its new position', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 5);
    witness(b, 5);
    b.typed('t1', 'u1').join('trip:a', 0).deliver('trip:a', 'a1', 1).resync('trip:a', pos(3)).deliver('trip:a', 'a5', 5);
    expect(brokenOnly(b.build(), 'typedOrder', 'gapAfterResync')[0]?.eventIds).toEqual(['a4']);
  });
});

describe('checkHistory: rawOrder', () => {
  it('a raw event after the socket left the trip is a rawOrder violation', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 2);
    raw.event('trip:a', 'a1', 1).left('trip:a').event('trip:a', 'a2', 2);
    expect(brokenOnly(b.build(), 'rawOrder', 'notJoined')[0]?.eventIds).toEqual(['a2']);
  });

  it('a raw client that gets one event three times has two duplicates', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 2);
    raw.event('trip:a', 'a1', 1).event('trip:a', 'a1', 1).event('trip:a', 'a1', 1).event('trip:a', 'a2', 2);
    const history = b.build();
    expect(brokenOnly(history, 'rawOrder', 'duplicate')).toHaveLength(2);
    expect(checkHistory(history).counts.rawOrder).toMatchObject({ violations: 2, rules: { duplicate: 2 } });
  });

  it('a raw client that gets 25560 after 25784 sees an inversion', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2');
    const first = raw.session('i1').joined('trip:a', pos(0));
    b.publish('25560', 'trip:a');
    first.event('trip:a', '25560', 1).disconnect();
    const second = raw.session('i2').joined('trip:a', pos(1));
    b.publish('25784', 'trip:a');
    second.event('trip:a', '25784', 2).event('trip:a', '25560', 1, 'e2');
    const [violation] = brokenOnly(b.build(), 'rawOrder', 'inversion');
    expect(violation?.message).toContain('25560 after 25784');
    expect(violation).toMatchObject({ client: 'r1', stream: 'trip:a', eventIds: ['25560', '25784'] });
  });
});

describe('checkHistory: completeness', () => {
  it('a raw client that skips a seq within an epoch missed it', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 3);
    witness(b, 3);
    raw.event('trip:a', 'a1', 1).event('trip:a', 'a3', 3);
    const [violation] = brokenOnly(b.build(), 'completeness', 'missed');
    expect(violation?.eventIds).toEqual(['a2']);
    expect(violation?.message).toContain('1@e1 then a3 at 3@e1: missing seq 2 (a2)');
  });

  it("a raw client's first event must follow its joined position", () => {
    const b = new HistoryBuilder();
    publishTrip(b, 3);
    witness(b, 3);
    b.raw('r1', 'u2').session('i1').joined('trip:a', pos(1)).event('trip:a', 'a3', 3);
    expect(brokenOnly(b.build(), 'completeness', 'missed')[0]?.eventIds).toEqual(['a2']);
  });

  it('a recovered join starts after since, not after the head', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 3);
    witness(b, 3);
    b.raw('r1', 'u2').session('i1').joined('trip:a', pos(3), { since: pos(1), recovered: true }).event('trip:a', 'a2', 2).event('trip:a', 'a3', 3);
    expect(checkHistory(b.build()).violations).toEqual([]);
    const gap = new HistoryBuilder();
    publishTrip(gap, 3);
    witness(gap, 3);
    gap.raw('r1', 'u2').session('i1').joined('trip:a', pos(3), { since: pos(1), recovered: true }).event('trip:a', 'a3', 3);
    expect(brokenOnly(gap.build(), 'completeness', 'missed')[0]?.eventIds).toEqual(['a2']);
  });

  it('a raw event that arrives late is an inversion, not a missed event', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 3);
    raw.event('trip:a', 'a1', 1).event('trip:a', 'a3', 3).event('trip:a', 'a2', 2);
    expect(brokenOnly(b.build(), 'rawOrder', 'inversion')[0]?.message).toContain('a2 after a3');
  });

  it('a raw gap filled in part by late events reports only the seqs never received', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 4);
    witness(b, 4);
    raw.event('trip:a', 'a1', 1).event('trip:a', 'a4', 4).event('trip:a', 'a2', 2);
    const report = checkHistory(b.build());
    expect(report.violations.map((v) => [v.rule, v.eventIds])).toEqual([
      ['missed', ['a3']],
      ['inversion', ['a2', 'a4']],
    ]);
    expect(report.violations[0]?.message).toContain('1@e1 then a4 at 4@e1: missing seq 3 (a3)');
  });

  it('a raw client may see a new epoch start anywhere', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 2);
    raw.event('trip:a', 'a1', 1).event('trip:a', 'a2', 5, 'e2');
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('a connected raw client behind the head at the end is a completeness violation', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 2);
    raw.event('trip:a', 'a1', 1);
    b.head('trip:a', pos(2), ['a1', 'a2']);
    const [violation] = brokenOnly(b.build(), 'completeness', 'notAtHead');
    expect(violation).toMatchObject({ client: 'r1', stream: 'trip:a', eventIds: ['a2'] });
  });

  it('a raw client that left the trip, or disconnected, is not held to the head', () => {
    const b = new HistoryBuilder();
    publishTrip(b, 2);
    b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0)).event('trip:a', 'a1', 1).left('trip:a');
    b.raw('r2', 'u3').session('i1').joined('trip:a', pos(0)).event('trip:a', 'a1', 1).disconnect();
    b.head('trip:a', pos(2), ['a1', 'a2']);
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('a connected typed client behind the head at the end is a completeness violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).final(true, { 'trip:a': pos(1) });
    b.head('trip:a', pos(2), ['a1', 'a2']);
    expect(brokenOnly(b.build(), 'completeness', 'notAtHead')[0]).toMatchObject({ client: 't1', eventIds: ['a2'] });
  });

  it('a raw client left in an older epoch is excused by a Redis restart after its last event', () => {
    const b = new HistoryBuilder();
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 1);
    raw.event('trip:a', 'a1', 1);
    b.fault('redis-restart').head('trip:a', pos(0, 'e2'), []);
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('a raw client left in an older epoch without a state loss after its last event is a completeness violation', () => {
    const b = new HistoryBuilder();
    b.fault('redis-restart');
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    publishTrip(b, 1);
    raw.event('trip:a', 'a1', 1);
    b.head('trip:a', pos(0, 'e2'), []);
    expect(brokenOnly(b.build(), 'completeness', 'notAtHead')[0]?.message).toContain('no redis-restart or redis-rollback');
  });

  it('an event nobody observed while a client stayed in its stream to the end is a completeness violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).final(true, {});
    const [violation] = brokenOnly(b.build(), 'completeness', 'notObserved');
    expect(violation?.eventIds).toEqual(['a2']);
  });

  it('an event a client missed while offline is covered when it resynced afterwards', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 3);
    typed.deliver('trip:a', 'a1', 1).resync('trip:a', pos(2)).deliver('trip:a', 'a3', 3).final(true, {});
    const report = checkHistory(b.build());
    expect(report.counts.completeness.violations).toBe(0);
    expect(report.stats.unobserved).toBe(1);
  });

  it('an event nobody observed is unobserved, not a violation, when Redis lost its state after it', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1).final(true, {});
    b.fault('redis-restart');
    const report = checkHistory(b.build());
    expect(report.counts.completeness.violations).toBe(0);
    expect(report.stats.unobserved).toBe(1);
  });

  it('an event published while nobody was joined is unobserved, not a violation', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    b.publish('a1', 'trip:a');
    typed.deliver('trip:a', 'a1', 1).leave('trip:a');
    b.publish('a2', 'trip:a');
    const report = checkHistory(b.build());
    expect(report.violations).toEqual([]);
    expect(report.stats.unobserved).toBe(1);
  });

  it('an event in the final tail counts as observed', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 2);
    typed.deliver('trip:a', 'a1', 1);
    b.head('trip:a', pos(2), ['a1', 'a2']);
    expect(checkHistory(b.build()).violations).toEqual([]);
  });
});

describe('checkHistory: republished ids after Redis lost its state', () => {
  it('a republished id numbered again in a later epoch is neither a repeat nor out of order', () => {
    const b = new HistoryBuilder();
    b.publish('a1', 'trip:a').publish('a2', 'trip:a');
    b.fault('redis-rollback');
    // Its de-duplication mark went with the rollback: the copy is numbered anew, after a2.
    b.publish('a1', 'trip:a', { republish: true }).publish('a3', 'trip:a');
    b.raw('r1', 'u1')
      .session('i1')
      .joined('trip:a', pos(0))
      .event('trip:a', 'a1', 1)
      .event('trip:a', 'a2', 2)
      .event('trip:a', 'a1', 1, 'e2')
      .event('trip:a', 'a3', 2, 'e2');
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('a republish numbered in place of an original that Redis forgot stands where the republish was sent', () => {
    const b = new HistoryBuilder();
    b.publish('a1', 'trip:a');
    b.fault('redis-rollback');
    b.publish('a2', 'trip:a').publish('a1', 'trip:a', { republish: true }).publish('a3', 'trip:a');
    b.raw('r1', 'u1')
      .session('i1')
      .joined('trip:a', pos(0, 'e2'))
      .event('trip:a', 'a2', 1, 'e2')
      .event('trip:a', 'a1', 2, 'e2')
      .event('trip:a', 'a3', 3, 'e2');
    expect(checkHistory(b.build()).violations).toEqual([]);
  });

  it('without a loss of Redis state since the original, a republish cannot take the original\'s place later', () => {
    const b = new HistoryBuilder();
    b.publish('a1', 'trip:a').publish('a2', 'trip:a').publish('a1', 'trip:a', { republish: true }).publish('a3', 'trip:a');
    b.raw('r1', 'u1')
      .session('i1')
      .joined('trip:a', pos(0))
      .event('trip:a', 'a2', 1)
      .event('trip:a', 'a1', 2)
      .event('trip:a', 'a3', 3);
    const report = checkHistory(b.build());
    expect(report.counts.numbering.violations).toBeGreaterThan(0);
    expect(report.counts.rawOrder.violations).toBeGreaterThan(0);
  });

  it('an id numbered again in a later epoch without a republish is still out of order', () => {
    const b = new HistoryBuilder();
    b.publish('a1', 'trip:a').publish('a2', 'trip:a').publish('a3', 'trip:a');
    b.raw('r1', 'u1')
      .session('i1')
      .joined('trip:a', pos(0))
      .event('trip:a', 'a1', 1)
      .event('trip:a', 'a2', 2)
      .event('trip:a', 'a1', 1, 'e2')
      .event('trip:a', 'a3', 2, 'e2');
    expect(checkHistory(b.build()).counts.rawOrder.violations).toBeGreaterThan(0);
  });
});

describe('checkHistory: deadLetters and health', () => {
  it('a missing dead letter is a deadLetters violation', () => {
    const b = new HistoryBuilder();
    b.invalid('bad1');
    expect(brokenOnly(b.build(), 'deadLetters', 'missingDeadLetter')[0]?.eventIds).toEqual(['bad1']);
  });

  it('a dead letter with another reason than expected is a deadLetters violation', () => {
    const b = new HistoryBuilder();
    b.invalid('bad1', 'invalid_data').deadLetter({ id: 'bad1', reason: 'unknown_type' });
    expect(brokenOnly(b.build(), 'deadLetters', 'wrongReason')[0]?.message).toContain('expected invalid_data');
  });

  it('a dead letter of a valid event, or without an id, is a deadLetters violation', () => {
    const b = new HistoryBuilder();
    b.publish('a1', 'trip:a').deadLetter({ id: 'a1', reason: 'handler_failed' }).deadLetter({ reason: 'invalid_json' });
    b.head('trip:a', pos(1), ['a1']);
    expect(brokenOnly(b.build(), 'deadLetters', 'unexpectedDeadLetter')).toHaveLength(2);
  });

  it('messages left in the bridge queue are a deadLetters violation', () => {
    const b = new HistoryBuilder().final({ queueMessages: 3 });
    expect(brokenOnly(b.build(), 'deadLetters', 'queueNotEmpty')[0]?.message).toContain('3 message(s)');
  });

  it('an unhealthy instance is a health violation', () => {
    const b = new HistoryBuilder().final({ health: { i1: 200, i2: 503 } });
    expect(brokenOnly(b.build(), 'health', 'unhealthy')[0]?.message).toContain('i2 answers 503');
  });
});

describe('checkHistory: the report', () => {
  it('counts every violation but keeps only the oldest few of each property', () => {
    const b = new HistoryBuilder();
    for (let n = 1; n <= 5; n += 1) b.invalid(`bad${n}`);
    const report = checkHistory(b.build(), { maxViolationsPerProperty: 2 });
    expect(report.counts.deadLetters.violations).toBe(5);
    expect(report.violations.map((v) => v.eventIds)).toEqual([['bad1'], ['bad2']]);
  });

  it('refuses a negative cap', () => {
    expect(() => checkHistory(cleanHistory(), { maxViolationsPerProperty: -1 })).toThrow(RangeError);
  });

  it('checks a history of 100,000 events and 300,000 observations without quadratic scans', () => {
    const b = new HistoryBuilder();
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    const raw = b.raw('r1', 'u2').session('i1').joined('trip:a', pos(0));
    const count = 100_000;
    for (let seq = 1; seq <= count; seq += 1) {
      b.publish(`a${seq}`, 'trip:a');
      typed.deliver('trip:a', `a${seq}`, seq);
      raw.event('trip:a', `a${seq}`, seq);
    }
    typed.final(true, { 'trip:a': pos(count) });
    b.head('trip:a', pos(count), Array.from({ length: 100 }, (_, i) => `a${count - 99 + i}`));
    const started = performance.now();
    const report = checkHistory(b.build());
    expect(report.ok).toBe(true);
    expect(report.stats.deliveries).toBe(2 * count);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('formatReport', () => {
  it('shows the counts, the first violations with their ids, and the fault schedule relative to the start', () => {
    const b = new HistoryBuilder();
    b.fault('sigkill', { at: T0 + 12_300, until: T0 + 15_000, target: 'i2' });
    b.fault('redis-latency', { at: T0 + 20_000, until: T0 + 25_000, detail: '200 ms' });
    const typed = b.typed('t1', 'u1').join('trip:a', 0);
    publishTrip(b, 3);
    witness(b, 3);
    typed.deliver('trip:a', 'a1', 1).deliver('trip:a', 'a3', 3);
    const history = b.build();
    const text = formatReport(checkHistory(history), history);
    expect(text).toContain('FAILED');
    expect(text).toMatch(/typedOrder\s+\d+\s+1 {2}\(gapWithoutResync 1\)/);
    expect(text).toContain('[gapWithoutResync] typed t1 in trip:a: 1@e1 then a3 at 3@e1: missing seq 2 (a2)');
    expect(text).toContain('ids: a2');
    expect(text).toContain('+12.3s sigkill i2 (until +15.0s)');
    expect(text).toContain('+20.0s redis-latency (until +25.0s): 200 ms');
  });

  it('says a clean run passed and lists no violations', () => {
    const history = cleanHistory();
    const text = formatReport(checkHistory(history), history);
    expect(text).toContain('chaos check passed: seed 7');
    expect(text).not.toContain('ids:');
  });
});
