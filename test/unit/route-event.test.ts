import { describe, it, expect } from 'vitest';
import type { BridgeEvent, EventData, EventType, TripLeftReason } from '../../contracts/index.js';
import type { FanoutPort, Push } from '../../consumers/ports.js';
import { routeEvent } from '../../consumers/route-event.js';
import { MemoryMembershipStore, MemoryStreamStore } from '../../src/state/memory-stores.js';
import { createStreams } from '../../src/state/streams.js';

type Call =
  | { call: 'toRoom'; room: string; push: Push }
  | { call: 'toAll'; push: Push }
  | { call: 'leaveTrip'; tripId: string; reason: TripLeftReason; userId?: string };

/** A fan-out port that records every call, in order, in one list. */
class RecordingFanout implements FanoutPort {
  readonly calls: Call[] = [];

  toRoom(room: string, push: Push): void {
    this.calls.push({ call: 'toRoom', room, push });
  }

  toAll(push: Push): void {
    this.calls.push({ call: 'toAll', push });
  }

  async leaveTrip(tripId: string, reason: TripLeftReason, userId?: string): Promise<void> {
    this.calls.push(userId === undefined ? { call: 'leaveTrip', tripId, reason } : { call: 'leaveTrip', tripId, reason, userId });
  }

  /** What each room received, as [room, payload] pairs. */
  roomPushes() {
    return this.calls.flatMap((c) => (c.call === 'toRoom' ? [[c.room, c.push.payload] as const] : []));
  }
}

let counter = 0;
function event<T extends EventType>(type: T, data: EventData<T>, extra: { time?: string } = {}): BridgeEvent {
  counter += 1;
  return {
    specversion: '1.0',
    id: `evt-${counter}`,
    source: 'trip-service',
    type,
    data,
    time: '2026-11-25T10:00:00.000Z',
    ...extra,
  } as BridgeEvent;
}

function setup() {
  const fanout = new RecordingFanout();
  const streams = createStreams(new MemoryStreamStore(), new MemoryStreamStore());
  const membership = new MemoryMembershipStore();
  const route = (e: BridgeEvent) => routeEvent(e, { fanout, streams, membership });
  return { fanout, streams, membership, route };
}

const notification = { type: 'info' as const, title: 'Vote', message: 'A new vote is open' };

describe('routeEvent: trip events', () => {
  it('sends a trip event to room trip:<id> as trip:updated with the full message', async () => {
    const { fanout, route } = setup();
    const e = event('trip.updated', { tripId: 'trip-123', changes: { name: 'Alps' }, updatedBy: 'user-1' });
    await route(e);

    expect(fanout.calls).toHaveLength(1);
    const [call] = fanout.calls;
    expect(call).toMatchObject({ call: 'toRoom', room: 'trip:trip-123', push: { event: 'trip:updated' } });
    expect(call?.call === 'toRoom' && call.push.payload).toEqual({
      eventId: e.id,
      type: 'trip.updated',
      tripId: 'trip-123',
      seq: 1,
      epoch: expect.any(String),
      time: '2026-11-25T10:00:00.000Z',
      source: 'trip-service',
      data: { tripId: 'trip-123', changes: { name: 'Alps' }, updatedBy: 'user-1' },
    });
  });

  it.each([
    ['trip.created', { tripId: 't1', trip: { name: 'Alps' } }],
    ['trip.member.added', { tripId: 't1', userId: 'u2' }],
    ['trip.activity', { tripId: 't1', kind: 'vote', payload: { option: 'a' }, actorId: 'u1' }],
  ] as const)('sends %s to the trip room as trip:updated, without anyone leaving', async (type, data) => {
    const { fanout, route } = setup();
    await route(event(type, data as EventData<typeof type>));
    expect(fanout.calls).toHaveLength(1);
    expect(fanout.calls[0]).toMatchObject({
      call: 'toRoom',
      room: 'trip:t1',
      push: { event: 'trip:updated', payload: { type, tripId: 't1', seq: 1, data } },
    });
  });

  it('numbers each trip 1, 2, 3 independently of other trips, within one epoch', async () => {
    const { fanout, route } = setup();
    for (const tripId of ['a', 'b', 'a', 'a', 'b']) await route(event('trip.updated', { tripId, changes: {} }));

    const seqOf = (room: string) =>
      fanout.roomPushes().filter(([r]) => r === room).map(([, p]) => (p as { seq: number }).seq);
    const epochsOf = (room: string) =>
      new Set(fanout.roomPushes().filter(([r]) => r === room).map(([, p]) => p.epoch));
    expect(seqOf('trip:a')).toEqual([1, 2, 3]);
    expect(seqOf('trip:b')).toEqual([1, 2]);
    expect(epochsOf('trip:a').size).toBe(1);
    expect(epochsOf('trip:b').size).toBe(1);
  });

  it('advances the stream head the joiners read', async () => {
    const { streams, route } = setup();
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    expect((await streams.trips.head('trip:t1')).seq).toBe(2);
  });

  it('stamps an event without time with the time it is handled', async () => {
    const { fanout, route } = setup();
    const before = Date.now();
    await route(event('trip.updated', { tripId: 't1', changes: {} }, { time: undefined }));
    const after = Date.now();
    const time = fanout.roomPushes()[0]?.[1].time ?? '';
    expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(time)).toBeLessThanOrEqual(after);
  });

  it('trip.deleted emits the event first, then makes every socket leave with reason deleted', async () => {
    const { fanout, route } = setup();
    await route(event('trip.deleted', { tripId: 't1', actorId: 'u1' }));
    expect(fanout.calls.map((c) => c.call)).toEqual(['toRoom', 'leaveTrip']);
    expect(fanout.calls[0]).toMatchObject({ room: 'trip:t1', push: { payload: { type: 'trip.deleted' } } });
    expect(fanout.calls[1]).toEqual({ call: 'leaveTrip', tripId: 't1', reason: 'deleted' });
  });

  it("trip.member.removed emits the event first, then makes only that user's sockets leave with reason removed", async () => {
    const { fanout, route } = setup();
    await route(event('trip.member.removed', { tripId: 't1', userId: 'u2', actorId: 'u1' }));
    expect(fanout.calls.map((c) => c.call)).toEqual(['toRoom', 'leaveTrip']);
    expect(fanout.calls[0]).toMatchObject({ room: 'trip:t1', push: { payload: { type: 'trip.member.removed' } } });
    expect(fanout.calls[1]).toEqual({ call: 'leaveTrip', tripId: 't1', reason: 'removed', userId: 'u2' });
  });
});

describe('routeEvent: notifications', () => {
  it('notification.created to userId goes to room user:<id> as notification with seq and epoch', async () => {
    const { fanout, route } = setup();
    const e = event('notification.created', { userId: 'u1', notification: { ...notification, id: 'n-1', data: { k: 1 } } });
    await route(e);
    expect(fanout.calls).toHaveLength(1);
    expect(fanout.calls[0]).toMatchObject({ call: 'toRoom', room: 'user:u1', push: { event: 'notification' } });
    expect(fanout.roomPushes()[0]?.[1]).toEqual({
      ...notification,
      id: 'n-1',
      data: { k: 1 },
      eventId: e.id,
      seq: 1,
      epoch: expect.any(String),
      time: '2026-11-25T10:00:00.000Z',
    });
  });

  it("a notification to userId and userIds reaches each user once with that user's own seq", async () => {
    const { fanout, route } = setup();
    await route(event('notification.created', { userId: 'u2', notification }));
    await route(event('notification.created', { userId: 'u1', userIds: ['u2', 'u1', 'u3', 'u3'], notification }));

    const second = fanout.roomPushes().slice(1);
    expect(second.map(([room]) => room).sort()).toEqual(['user:u1', 'user:u2', 'user:u3']);
    const seqByRoom = Object.fromEntries(second.map(([room, p]) => [room, (p as { seq?: number }).seq]));
    expect(seqByRoom).toEqual({ 'user:u1': 1, 'user:u2': 2, 'user:u3': 1 });
  });

  it('notification.created to userIds only reaches each listed user', async () => {
    const { fanout, route } = setup();
    await route(event('notification.created', { userIds: ['a', 'b'], notification }));
    expect(fanout.roomPushes().map(([room]) => room)).toEqual(['user:a', 'user:b']);
  });

  it('user streams and trip streams with the same id do not share numbering', async () => {
    const { fanout, route } = setup();
    await route(event('trip.updated', { tripId: 'x', changes: {} }));
    await route(event('trip.updated', { tripId: 'x', changes: {} }));
    await route(event('notification.created', { userId: 'x', notification }));
    expect(fanout.roomPushes().map(([room, p]) => [room, (p as { seq?: number }).seq])).toEqual([
      ['trip:x', 1],
      ['trip:x', 2],
      ['user:x', 1],
    ]);
  });

  it('notification.broadcast goes to every socket without seq or epoch', async () => {
    const { fanout, route } = setup();
    const e = event('notification.broadcast', { notification });
    await route(e);
    expect(fanout.calls).toEqual([
      {
        call: 'toAll',
        push: { event: 'notification', payload: { ...notification, eventId: e.id, time: '2026-11-25T10:00:00.000Z' } },
      },
    ]);
  });
});

describe('routeEvent: membership and history', () => {
  const at = Math.floor(Date.parse('2026-11-25T10:00:00.000Z') / 1000);

  it('records trip.member.added and trip.member.removed with the event time', async () => {
    const { membership, route } = setup();
    await route(event('trip.member.added', { tripId: 't1', userId: 'u1' }));
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at } });
    await route(event('trip.member.removed', { tripId: 't1', userId: 'u1' }, { time: '2026-11-25T11:00:00.000Z' }));
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'removed', at: at + 3600 } });
  });

  it('keeps what it delivered for recovery, numbered as delivered', async () => {
    const { streams, fanout, route } = setup();
    await route(event('trip.updated', { tripId: 't1', changes: { a: 1 } }));
    await route(event('trip.updated', { tripId: 't1', changes: { a: 2 } }));
    const { epoch } = await streams.trips.head('trip:t1');
    const recovery = await streams.trips.since('trip:t1', { seq: 0, epoch });
    expect(recovery.recovered && recovery.messages).toEqual(fanout.roomPushes().map(([, payload]) => payload));
  });

  it('records trip.deleted and drops the trip history, so the next event starts a new epoch', async () => {
    const { streams, membership, route } = setup();
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    const before = await streams.trips.head('trip:t1');
    await route(event('trip.deleted', { tripId: 't1' }));
    expect(await membership.lookup('t1', 'anyone')).toEqual({ deleted: { change: 'deleted', at } });
    const after = await streams.trips.head('trip:t1');
    expect(after.seq).toBe(0);
    expect(after.epoch).not.toBe(before.epoch);
  });

  it('keeps each user notification for that user’s recovery', async () => {
    const { streams, route } = setup();
    await route(event('notification.created', { userIds: ['u1', 'u2'], notification }));
    const head = await streams.users.head('user:u2');
    const recovery = await streams.users.since('user:u2', { seq: 0, epoch: head.epoch });
    expect(recovery).toMatchObject({ recovered: true, messages: [{ title: notification.title, seq: 1 }] });
  });
});
