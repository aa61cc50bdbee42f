import { describe, expect, it } from 'vitest';
import type {
  AckResponse,
  NotificationMessage,
  StreamPosition,
  TripJoinPayload,
  TripJoinResult,
  TripUpdatedMessage,
} from '../../contracts/index.js';
import { NotificationSync } from '../../src/client/notification-sync.js';
import { StreamCursor, type Numbered } from '../../src/client/stream-cursor.js';
import { TripSync } from '../../src/client/trip-sync.js';

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const at = (seq: number, epoch = 'e1'): Numbered => ({ seq, epoch });
const seqs = (events: Numbered[]) => events.map((e) => e.seq);

function tripEvent(tripId: string, seq: number, epoch = 'e1'): TripUpdatedMessage {
  return {
    eventId: `${tripId}-${epoch}-${seq}`,
    type: 'trip.updated',
    tripId,
    seq,
    epoch,
    time: '2026-11-25T10:00:00.000Z',
    source: 'test',
    data: { tripId, changes: { step: seq } },
  };
}

function joinAck(tripId: string, seq: number, recovered: boolean, epoch = 'e1'): AckResponse<TripJoinResult> {
  return { ok: true, tripId, seq, epoch, recovered, presence: [] };
}

describe('StreamCursor', () => {
  it('hands out consecutive events at once and drops what it already handed out', () => {
    const cursor = new StreamCursor(at(0));
    expect(seqs(cursor.push(at(1)))).toEqual([1]);
    expect(seqs(cursor.push(at(2)))).toEqual([2]);
    expect(cursor.push(at(2))).toEqual([]);
    expect(cursor.push(at(1))).toEqual([]);
    expect(cursor.position).toEqual({ seq: 2, epoch: 'e1' });
    expect(cursor.waiting).toBe(false);
  });

  it('holds events ahead of a gap until the gap is filled, then hands them out in order', () => {
    const cursor = new StreamCursor(at(3));
    expect(cursor.push(at(6))).toEqual([]);
    expect(cursor.push(at(5))).toEqual([]);
    expect(cursor.waiting).toBe(true);
    expect(seqs(cursor.push(at(4)))).toEqual([4, 5, 6]);
    expect(cursor.waiting).toBe(false);
  });

  it('holds everything until it has a position; a reset drops what the head covers and hands out the rest', () => {
    const cursor = new StreamCursor();
    expect(cursor.push(at(7))).toEqual([]);
    expect(cursor.push(at(8))).toEqual([]);
    expect(seqs(cursor.reset({ seq: 7, epoch: 'e1' }))).toEqual([8]);
    expect(cursor.position).toEqual({ seq: 8, epoch: 'e1' });
  });

  it('keeps an event of another epoch waiting, and after a reset to that epoch only what follows the head', () => {
    const cursor = new StreamCursor(at(40));
    expect(cursor.push(at(1, 'e2'))).toEqual([]);
    expect(cursor.push(at(2, 'e2'))).toEqual([]);
    expect(cursor.push(at(41))).toEqual([at(41)]);
    expect(cursor.reset({ seq: 1, epoch: 'e2' })).toEqual([at(2, 'e2')]);
    expect(cursor.waiting).toBe(false);
  });

  it('skips a gap nothing will fill: restarts just before the earliest waiting event of the newest epoch', () => {
    const cursor = new StreamCursor(at(10));
    cursor.push(at(5, 'old'));
    cursor.push(at(15));
    cursor.push(at(13));
    expect(seqs(cursor.skipGap())).toEqual([13]);
    expect(seqs(cursor.skipGap())).toEqual([15]);
    expect(cursor.waiting).toBe(false);
    expect(cursor.skipGap()).toEqual([]);
  });
});

/** A TripSync over a fake socket whose `trip:join` answers the test gives by hand. */
function tripHarness() {
  const joins: { payload: TripJoinPayload; answer: (ack: AckResponse<TripJoinResult>) => void }[] = [];
  const delivered: string[] = [];
  const resyncs: [string, StreamPosition][] = [];
  const lost: [string, string][] = [];
  const state = { online: true };
  const sync = new TripSync({
    join: (payload) => new Promise((answer) => joins.push({ payload, answer })),
    connected: () => state.online,
    deliver: (e) => delivered.push(`${e.tripId}:${e.epoch}:${e.seq}`),
    resync: (tripId, position) => resyncs.push([tripId, position]),
    rejoinFailed: (tripId, error) => lost.push([tripId, error.code]),
    retryDelayMs: () => 5,
  });
  /** Answers the oldest unanswered join and lets its continuation run. */
  const answer = async (ack: AckResponse<TripJoinResult>) => {
    joins.shift()!.answer(ack);
    await flush();
  };
  const reconnect = () => {
    sync.disconnected();
    sync.connected();
  };
  return { sync, joins, delivered, resyncs, lost, state, answer, reconnect };
}

/** Joins trip `t` at head 0 and delivers events 1..n. */
async function joinedAt(h: ReturnType<typeof tripHarness>, n: number) {
  const joined = h.sync.join('t');
  await h.answer(joinAck('t', 0, false));
  await joined;
  for (let seq = 1; seq <= n; seq++) h.sync.receive(tripEvent('t', seq));
}

describe('TripSync', () => {
  it('resolves the first join with the ack (without ok); events up to the head are dropped, later ones follow', async () => {
    const h = tripHarness();
    const joined = h.sync.join('t');
    expect(h.joins[0]?.payload).toEqual({ tripId: 't' });
    h.sync.receive(tripEvent('t', 4));
    h.sync.receive(tripEvent('t', 5));
    await h.answer(joinAck('t', 4, false));
    expect(await joined).toEqual({ tripId: 't', seq: 4, epoch: 'e1', recovered: false, presence: [] });
    expect(h.delivered).toEqual(['t:e1:5']);
    expect(h.resyncs).toEqual([]);
  });

  it('rejoins every trip after a reconnect with since = the last event handed out, and hands a replay out once', async () => {
    const h = tripHarness();
    await joinedAt(h, 3);
    h.reconnect();
    expect(h.joins.map((j) => j.payload)).toEqual([{ tripId: 't', since: { seq: 3, epoch: 'e1' } }]);
    // The replay overlaps what arrived live: 3 again, then 4..6, then a live 7 before the ack.
    for (const seq of [3, 4, 5, 6, 7]) h.sync.receive(tripEvent('t', seq));
    await h.answer(joinAck('t', 6, true));
    h.sync.receive(tripEvent('t', 8));
    expect(h.delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((s) => `t:e1:${s}`));
    expect(h.resyncs).toEqual([]);
  });

  it('holds an event ahead of a gap until the replay fills it', async () => {
    const h = tripHarness();
    await joinedAt(h, 2);
    h.reconnect();
    h.sync.receive(tripEvent('t', 5));
    expect(h.delivered).toHaveLength(2);
    for (const seq of [3, 4]) h.sync.receive(tripEvent('t', seq));
    await h.answer(joinAck('t', 4, true));
    expect(h.delivered.slice(2)).toEqual(['t:e1:3', 't:e1:4', 't:e1:5']);
  });

  it('carries on without a resync after a reconnect that missed nothing', async () => {
    const h = tripHarness();
    await joinedAt(h, 2);
    h.reconnect();
    await h.answer(joinAck('t', 2, true));
    h.sync.receive(tripEvent('t', 3));
    expect(h.resyncs).toEqual([]);
    expect(h.delivered.at(-1)).toBe('t:e1:3');
  });

  it('resyncs when the server says it could not recover, even with its head behind the client (Redis rolled back)', async () => {
    const h = tripHarness();
    await joinedAt(h, 6);
    h.reconnect();
    // The server's state went back to seq 3 under the same epoch: 4 and 5 will be new events.
    await h.answer(joinAck('t', 3, false));
    h.sync.receive(tripEvent('t', 4));
    h.sync.receive(tripEvent('t', 5));
    expect(h.resyncs).toEqual([['t', { seq: 3, epoch: 'e1' }]]);
    expect(h.delivered.slice(6)).toEqual(['t:e1:4', 't:e1:5']);
  });

  it('resyncs to the head when history did not reach back, dropping what the head covers', async () => {
    const h = tripHarness();
    await joinedAt(h, 2);
    h.reconnect();
    h.sync.receive(tripEvent('t', 30));
    h.sync.receive(tripEvent('t', 31));
    await h.answer(joinAck('t', 30, false));
    h.sync.receive(tripEvent('t', 32));
    expect(h.resyncs).toEqual([['t', { seq: 30, epoch: 'e1' }]]);
    expect(h.delivered).toEqual(['t:e1:1', 't:e1:2', 't:e1:31', 't:e1:32']);
  });

  it('resyncs into a new epoch and continues with its numbering', async () => {
    const h = tripHarness();
    await joinedAt(h, 9);
    h.reconnect();
    h.sync.receive(tripEvent('t', 1, 'e2'));
    await h.answer(joinAck('t', 0, false, 'e2'));
    h.sync.receive(tripEvent('t', 2, 'e2'));
    expect(h.resyncs).toEqual([['t', { seq: 0, epoch: 'e2' }]]);
    expect(h.delivered.slice(9)).toEqual(['t:e2:1', 't:e2:2']);
    expect(h.sync.position('t')).toEqual({ seq: 2, epoch: 'e2' });
  });

  it('asks the server to fill a gap seen on a live stream', async () => {
    const h = tripHarness();
    await joinedAt(h, 1);
    h.sync.receive(tripEvent('t', 3));
    expect(h.joins.map((j) => j.payload)).toEqual([{ tripId: 't', since: { seq: 1, epoch: 'e1' } }]);
    h.sync.receive(tripEvent('t', 2));
    await h.answer(joinAck('t', 3, true));
    expect(h.delivered).toEqual(['t:e1:1', 't:e1:2', 't:e1:3']);
  });

  it('does not rejoin a trip the member was removed from, nor one the application left', async () => {
    const h = tripHarness();
    for (const tripId of ['kept', 'removed', 'left']) {
      const joined = h.sync.join(tripId);
      await h.answer(joinAck(tripId, 0, false));
      await joined;
    }
    h.sync.removed('removed');
    expect(h.sync.leave('left')).toBe(true);
    h.reconnect();
    expect(h.joins.map((j) => j.payload.tripId)).toEqual(['kept']);
    h.sync.receive(tripEvent('removed', 1));
    expect(h.delivered).toEqual([]);
  });

  it('rejects a refused first join with its code and forgets the trip', async () => {
    const h = tripHarness();
    const refused = h.sync.join('t').catch((err: unknown) => err);
    await h.answer({ ok: false, error: { code: 'forbidden', message: 'not a member' } });
    expect(await refused).toMatchObject({ name: 'BridgeClientError', code: 'forbidden' });
    expect(h.sync.tripIds()).toEqual([]);
  });

  it('forgets and reports a rejoin refused as forbidden, and retries one refused as rate_limited', async () => {
    const h = tripHarness();
    await joinedAt(h, 1);
    h.reconnect();
    await h.answer({ ok: false, error: { code: 'rate_limited', message: 'slow down' } });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.joins.map((j) => j.payload)).toEqual([{ tripId: 't', since: { seq: 1, epoch: 'e1' } }]);
    await h.answer({ ok: false, error: { code: 'forbidden', message: 'removed' } });
    expect(h.lost).toEqual([['t', 'forbidden']]);
    h.reconnect();
    expect(h.joins).toHaveLength(0);
  });

  it('ignores an answer from a dropped connection, and joins a trip asked for offline once connected', async () => {
    const h = tripHarness();
    h.state.online = false;
    const joined = h.sync.join('t');
    expect(h.joins).toHaveLength(0);
    h.state.online = true;
    h.sync.connected();
    const stale = h.joins.shift()!;
    h.reconnect();
    stale.answer(joinAck('t', 99, false));
    await flush();
    expect(h.sync.isJoined('t')).toBe(false);
    await h.answer(joinAck('t', 2, false));
    expect((await joined).seq).toBe(2);
  });
});

describe('NotificationSync', () => {
  function notificationHarness() {
    const delivered: string[] = [];
    let resyncs = 0;
    const sync = new NotificationSync({
      deliver: (n) => delivered.push(n.seq === undefined ? `broadcast:${n.title}` : `${n.epoch}:${n.seq}`),
      resync: () => resyncs++,
    });
    const note = (seq?: number, epoch = 'u1'): NotificationMessage => ({
      eventId: `n-${seq}`,
      time: '2026-11-25T10:00:00.000Z',
      type: 'info',
      title: `n${seq ?? ''}`,
      message: '',
      ...(seq === undefined ? {} : { seq, epoch }),
    });
    return { sync, delivered, note, resyncs: () => resyncs };
  }

  it('passes broadcasts through and hands numbered notifications out once, in order', () => {
    const h = notificationHarness();
    expect(h.sync.handshake()).toBeUndefined();
    for (const n of [h.note(4), h.note(), h.note(5), h.note(5)]) h.sync.receive(n);
    h.sync.connected(undefined);
    expect(h.delivered).toEqual(['u1:4', 'broadcast:n', 'u1:5']);
    expect(h.resyncs()).toBe(0);
  });

  it('offers the last position at the next handshake and drops the overlap of a recovered replay', () => {
    const h = notificationHarness();
    h.sync.handshake();
    h.sync.receive(h.note(1));
    h.sync.connected(undefined);
    expect(h.sync.handshake()).toEqual({ seq: 1, epoch: 'u1' });
    for (const seq of [1, 2, 3]) h.sync.receive(h.note(seq));
    h.sync.connected(true);
    expect(h.delivered).toEqual(['u1:1', 'u1:2', 'u1:3']);
    expect(h.resyncs()).toBe(0);
  });

  it('says notifications:resync when connected does not confirm the recovery, then starts afresh', () => {
    const h = notificationHarness();
    h.sync.handshake();
    h.sync.receive(h.note(1));
    h.sync.handshake();
    h.sync.connected(undefined);
    expect(h.resyncs()).toBe(1);
    h.sync.receive(h.note(1, 'u2'));
    expect(h.delivered).toEqual(['u1:1', 'u2:1']);
    expect(h.resyncs()).toBe(1);
  });

  it('stands at the head the server gives after a resync, so that the next reconnect still asks for what it missed', () => {
    const h = notificationHarness();
    h.sync.handshake();
    h.sync.receive(h.note(6));
    expect(h.sync.handshake()).toEqual({ seq: 6, epoch: 'u1' });
    // Redis lost the stream: a new epoch, already at 3 when the client connected.
    h.sync.connected(false, { seq: 3, epoch: 'u2' });
    expect(h.resyncs()).toBe(1);
    // Offline again before any new notification: the next handshake asks for those after 3 of u2.
    expect(h.sync.handshake()).toEqual({ seq: 3, epoch: 'u2' });
    for (const seq of [4, 5]) h.sync.receive(h.note(seq, 'u2'));
    h.sync.connected(true, { seq: 5, epoch: 'u2' });
    expect(h.delivered).toEqual(['u1:6', 'u2:4', 'u2:5']);
    expect(h.resyncs()).toBe(1);
  });

  it('starts at the head the server gives on a first connection, dropping what the head covers', () => {
    const h = notificationHarness();
    h.sync.handshake();
    h.sync.connected(undefined, { seq: 9, epoch: 'u1' });
    h.sync.receive(h.note(9));
    h.sync.receive(h.note(10));
    expect(h.delivered).toEqual(['u1:10']);
    expect(h.sync.handshake()).toEqual({ seq: 10, epoch: 'u1' });
  });

  it('says notifications:resync on a live gap and still hands the notification out', () => {
    const h = notificationHarness();
    h.sync.handshake();
    h.sync.connected(undefined);
    h.sync.receive(h.note(1));
    h.sync.receive(h.note(4));
    expect(h.resyncs()).toBe(1);
    expect(h.delivered).toEqual(['u1:1', 'u1:4']);
  });
});
