import { describe, it, expect } from 'vitest';
import type { BridgeEvent, EventData, EventType, NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import type { Broadcast, FanoutPort } from '../../consumers/ports.js';
import { routeEvent } from '../../consumers/route-event.js';
import { DEFAULT_MEMBERSHIP, MemoryDedupeStore, MemoryMembershipStore } from '../../src/state/memory-stores.js';
import { FencedError, type StreamEntry } from '../../src/state/stores.js';
import { createMemoryStreams } from '../../src/state/streams.js';

type Entry = StreamEntry<TripUpdatedMessage | NotificationMessage>;

/** A fan-out port that records the broadcasts. */
class RecordingFanout implements FanoutPort {
  readonly broadcasts: Broadcast[] = [];

  toAll(push: Broadcast): void {
    this.broadcasts.push(push);
  }
}

let counter = 0;
function event<T extends EventType>(type: T, data: EventData<T>, extra: { time?: string; id?: string } = {}): BridgeEvent {
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

/** The route over in-memory streams, recording every entry they hand out, in order. */
async function setup() {
  const fanout = new RecordingFanout();
  const streams = createMemoryStreams();
  const entries: Entry[] = [];
  streams.listen((entry) => entries.push(entry));
  const membership = new MemoryMembershipStore(DEFAULT_MEMBERSHIP, streams.fence);
  const dedupe = new MemoryDedupeStore();
  const lease = await streams.fence.acquire();
  const route = (e: BridgeEvent) => routeEvent(e, lease, { fanout, streams, membership, dedupe });
  /** What each stream received, as [stream, message] pairs. */
  const pushes = () => entries.map((e) => [e.stream, e.message] as const);
  return { fanout, streams, membership, route, entries, pushes };
}

const notification = { type: 'info' as const, title: 'Vote', message: 'A new vote is open' };

describe('routeEvent: trip events', () => {
  it('sends a trip event to room trip:<id> as trip:updated with the full message', async () => {
    const { route, entries } = await setup();
    const e = event('trip.updated', { tripId: 'trip-123', changes: { name: 'Alps' }, updatedBy: 'user-1' });
    await route(e);

    expect(entries).toHaveLength(1);
    const [entry] = entries;
    expect(entry).toMatchObject({ stream: 'trip:trip-123', seq: 1 });
    expect(entry?.leave).toBeUndefined();
    expect(entry?.message).toEqual({
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
    const { route, entries } = await setup();
    await route(event(type, data as EventData<typeof type>));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toEqual({ stream: 'trip:t1', seq: 1, at: expect.any(Number), message: expect.objectContaining({ type, tripId: 't1', seq: 1, data }) });
  });

  it('numbers each trip 1, 2, 3 independently of other trips, within one epoch', async () => {
    const { route, pushes } = await setup();
    for (const tripId of ['a', 'b', 'a', 'a', 'b']) await route(event('trip.updated', { tripId, changes: {} }));

    const seqOf = (room: string) =>
      pushes().filter(([r]) => r === room).map(([, p]) => (p as { seq: number }).seq);
    const epochsOf = (room: string) =>
      new Set(pushes().filter(([r]) => r === room).map(([, p]) => p.epoch));
    expect(seqOf('trip:a')).toEqual([1, 2, 3]);
    expect(seqOf('trip:b')).toEqual([1, 2]);
    expect(epochsOf('trip:a').size).toBe(1);
    expect(epochsOf('trip:b').size).toBe(1);
  });

  it('advances the stream head the joiners read', async () => {
    const { streams, route } = await setup();
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    expect((await streams.trips.head('trip:t1')).seq).toBe(2);
  });

  it('stamps an event without time with the time it is handled', async () => {
    const { route, pushes } = await setup();
    const before = Date.now();
    await route(event('trip.updated', { tripId: 't1', changes: {} }, { time: undefined }));
    const after = Date.now();
    const time = pushes()[0]?.[1].time ?? '';
    expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(time)).toBeLessThanOrEqual(after);
  });

  it('trip.deleted goes out with the instruction that every socket leaves afterwards, reason deleted', async () => {
    const { route, entries } = await setup();
    await route(event('trip.deleted', { tripId: 't1', actorId: 'u1' }));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ stream: 'trip:t1', message: { type: 'trip.deleted' }, leave: { reason: 'deleted' } });
  });

  it("trip.member.removed goes out with the instruction that only that user's sockets leave, reason removed", async () => {
    const { route, entries } = await setup();
    await route(event('trip.member.removed', { tripId: 't1', userId: 'u2', actorId: 'u1' }));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      stream: 'trip:t1',
      message: { type: 'trip.member.removed' },
      leave: { reason: 'removed', userId: 'u2' },
    });
  });

  it('hands an event out once: the same id again (a redelivery, a republish) is a duplicate', async () => {
    const { route, entries } = await setup();
    const e = event('trip.updated', { tripId: 't1', changes: {} });
    expect(await route(e)).toBe('delivered');
    expect(await route(e)).toBe('duplicate');
    expect(entries).toHaveLength(1);
  });

  it('writes nothing under a lease that was taken over', async () => {
    const { route, streams, entries, membership } = await setup();
    await streams.fence.acquire();
    await expect(route(event('trip.member.removed', { tripId: 't1', userId: 'u2' }))).rejects.toBeInstanceOf(FencedError);
    expect(entries).toHaveLength(0);
    expect(await membership.lookup('t1', 'u2')).toEqual({});
  });
});

describe('routeEvent: notifications', () => {
  it('notification.created to userId goes to room user:<id> as notification with seq and epoch', async () => {
    const { route, entries, pushes } = await setup();
    const e = event('notification.created', { userId: 'u1', notification: { ...notification, id: 'n-1', data: { k: 1 } } });
    await route(e);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ stream: 'user:u1', seq: 1 });
    expect(pushes()[0]?.[1]).toEqual({
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
    const { route, pushes } = await setup();
    await route(event('notification.created', { userId: 'u2', notification }));
    await route(event('notification.created', { userId: 'u1', userIds: ['u2', 'u1', 'u3', 'u3'], notification }));

    const second = pushes().slice(1);
    expect(second.map(([room]) => room).sort()).toEqual(['user:u1', 'user:u2', 'user:u3']);
    const seqByRoom = Object.fromEntries(second.map(([room, p]) => [room, (p as { seq?: number }).seq]));
    expect(seqByRoom).toEqual({ 'user:u1': 1, 'user:u2': 2, 'user:u3': 1 });
  });

  it('notification.created to userIds only reaches each listed user', async () => {
    const { route, pushes } = await setup();
    await route(event('notification.created', { userIds: ['a', 'b'], notification }));
    expect(pushes().map(([room]) => room)).toEqual(['user:a', 'user:b']);
  });

  it('user streams and trip streams with the same id do not share numbering', async () => {
    const { route, pushes } = await setup();
    await route(event('trip.updated', { tripId: 'x', changes: {} }));
    await route(event('trip.updated', { tripId: 'x', changes: {} }));
    await route(event('notification.created', { userId: 'x', notification }));
    expect(pushes().map(([room, p]) => [room, (p as { seq?: number }).seq])).toEqual([
      ['trip:x', 1],
      ['trip:x', 2],
      ['user:x', 1],
    ]);
  });

  it('notification.broadcast goes to every socket without seq or epoch', async () => {
    const { route, entries, fanout } = await setup();
    const e = event('notification.broadcast', { notification });
    await route(e);
    expect(fanout.broadcasts).toEqual([
      { event: 'notification', payload: { ...notification, eventId: e.id, time: '2026-11-25T10:00:00.000Z' } },
    ]);
    expect(entries).toHaveLength(0);
    // The same broadcast again within the window is not sent twice.
    expect(await route(e)).toBe('duplicate');
    expect(fanout.broadcasts).toHaveLength(1);
  });
});

describe('routeEvent: membership and history', () => {
  const at = Math.floor(Date.parse('2026-11-25T10:00:00.000Z') / 1000);

  it('records trip.member.added and trip.member.removed with the event time', async () => {
    const { membership, route } = await setup();
    await route(event('trip.member.added', { tripId: 't1', userId: 'u1' }));
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at } });
    await route(event('trip.member.removed', { tripId: 't1', userId: 'u1' }, { time: '2026-11-25T11:00:00.000Z' }));
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'removed', at: at + 3600 } });
  });

  it('records the event time to the millisecond', async () => {
    const { membership, route } = await setup();
    await route(event('trip.member.added', { tripId: 't1', userId: 'u1' }, { time: '2026-11-25T10:00:00.250+01:00' }));
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: at - 3600 + 0.25 } });
  });

  it('delivers a trip.member.removed older than the kept addition, but no socket leaves and the addition stands', async () => {
    const { membership, route, entries } = await setup();
    await route(event('trip.member.added', { tripId: 't1', userId: 'u1' }, { time: '2026-11-25T10:01:00.000Z' }));
    expect(await route(event('trip.member.removed', { tripId: 't1', userId: 'u1' }))).toBe('delivered');
    expect(entries.map((e) => e.message.type)).toEqual(['trip.member.added', 'trip.member.removed']);
    expect(entries[1]?.leave).toBeUndefined();
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'added', at: at + 60 } });
  });

  it('delivers a trip.member.added older than the kept removal, and grants nothing', async () => {
    const { membership, route, entries } = await setup();
    await route(event('trip.member.removed', { tripId: 't1', userId: 'u1' }, { time: '2026-11-25T10:01:00.000Z' }));
    expect(entries[0]?.leave).toEqual({ reason: 'removed', userId: 'u1' });
    expect(await route(event('trip.member.added', { tripId: 't1', userId: 'u1' }))).toBe('delivered');
    expect(entries).toHaveLength(2);
    expect(await membership.lookup('t1', 'u1')).toEqual({ member: { change: 'removed', at: at + 60 } });
  });

  it('delivers a trip.deleted older than the kept deletion without emptying the room or dropping the history', async () => {
    const { streams, membership, route, entries } = await setup();
    await route(event('trip.deleted', { tripId: 't1' }, { time: '2026-11-25T10:01:00.000Z' }));
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    const before = await streams.trips.head('trip:t1');
    expect(await route(event('trip.deleted', { tripId: 't1' }))).toBe('delivered');
    expect(entries.at(-1)).toMatchObject({ message: { type: 'trip.deleted', seq: 2, epoch: before.epoch } });
    expect(entries.at(-1)?.leave).toBeUndefined();
    expect(await streams.trips.head('trip:t1')).toMatchObject({ seq: 2, epoch: before.epoch });
    expect(await membership.lookup('t1', 'u1')).toEqual({ deleted: { change: 'deleted', at: at + 60 } });
  });

  it('keeps what it delivered for recovery, numbered as delivered', async () => {
    const { streams, route, entries } = await setup();
    await route(event('trip.updated', { tripId: 't1', changes: { a: 1 } }));
    await route(event('trip.updated', { tripId: 't1', changes: { a: 2 } }));
    const { epoch } = await streams.trips.head('trip:t1');
    const recovery = await streams.trips.since('trip:t1', { seq: 0, epoch });
    expect(recovery.recovered && recovery.entries).toEqual(entries);
  });

  it('records trip.deleted and drops the trip history, so the next event starts a new epoch', async () => {
    const { streams, membership, route } = await setup();
    await route(event('trip.updated', { tripId: 't1', changes: {} }));
    const before = await streams.trips.head('trip:t1');
    await route(event('trip.deleted', { tripId: 't1' }));
    expect(await membership.lookup('t1', 'anyone')).toEqual({ deleted: { change: 'deleted', at } });
    const after = await streams.trips.head('trip:t1');
    expect(after.seq).toBe(0);
    expect(after.epoch).not.toBe(before.epoch);
  });

  it('keeps each user notification for that user’s recovery', async () => {
    const { streams, route } = await setup();
    await route(event('notification.created', { userIds: ['u1', 'u2'], notification }));
    const head = await streams.users.head('user:u2');
    const recovery = await streams.users.since('user:u2', { seq: 0, epoch: head.epoch });
    expect(recovery).toMatchObject({ recovered: true, entries: [{ message: { title: notification.title, seq: 1 } }] });
  });
});
