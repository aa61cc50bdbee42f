import type { BridgeEvent, NotificationEvent, TripEvent, TripUpdatedMessage } from '../contracts/index.js';
import { andThen, type NowOrLater } from '../src/state/now-or-later.js';
import type { Appended, DedupeStore, Lease, MembershipStore, Recorded, StreamLeave } from '../src/state/stores.js';
import type { Streams } from '../src/state/streams.js';
import type { Delivery } from './dispatcher.js';
import { rooms, type FanoutPort } from './ports.js';

export interface RouteDeps {
  fanout: FanoutPort;
  streams: Streams;
  membership: MembershipStore;
  /** The de-duplication window of broadcasts (streams de-duplicate their own writes). */
  dedupe: DedupeStore;
}

/**
 * Delivers one validated event to the rooms the contract names for its type. With the streams in
 * memory, a trip event or a notification is delivered at once (see NowOrLater).
 */
export function routeEvent(event: BridgeEvent, lease: Lease, deps: RouteDeps): NowOrLater<Delivery> {
  // Events without `time` are stamped when the bridge handles them.
  const time = event.time ?? new Date().toISOString();
  switch (event.type) {
    case 'notification.created':
      return deliverNotification(event, time, lease, deps);
    case 'notification.broadcast':
      return deliverBroadcast(event, time, deps);
    default:
      return deliverTripEvent(event, time, lease, deps);
  }
}

/** Not numbered, so not recoverable: at least once, and at most once within the window. */
async function deliverBroadcast(
  event: Extract<NotificationEvent, { type: 'notification.broadcast' }>,
  time: string,
  deps: RouteDeps,
): Promise<Delivery> {
  if (await deps.dedupe.seen(event.id)) return 'duplicate';
  deps.fanout.toAll({ event: 'notification', payload: Object.assign({}, event.data.notification, { eventId: event.id, time }) });
  await deps.dedupe.remember(event.id);
  return 'delivered';
}

const deliveryOf = (appended: Appended): Delivery => (appended === 'appended' ? 'delivered' : 'duplicate');

/**
 * What the trip's sockets do after the event: the removed user's sockets leave, or every socket of a
 * deleted trip. Every instance does it for its own sockets as it hands the entry out, so that no later
 * event of the trip can reach them, whatever happens to the other instances.
 */
function leaveOf(event: TripEvent): StreamLeave | undefined {
  if (event.type === 'trip.member.removed') return { reason: 'removed', userId: event.data.userId };
  if (event.type === 'trip.deleted') return { reason: 'deleted' };
  return undefined;
}

/** The trip events that change who may join; only they touch the membership store. */
const MEMBERSHIP_EVENTS: ReadonlySet<TripEvent['type']> = new Set(['trip.member.added', 'trip.member.removed', 'trip.deleted']);

/**
 * Membership changes are recorded before the event goes out, so that a join racing with it sees them.
 * 'stale': the store keeps a later change for that user (or deletion of the trip), and this one
 * changes nothing. Times to the millisecond (a fraction of a second), still comparable with `iat`.
 */
async function recordMembership(event: TripEvent, time: string, membership: MembershipStore, lease: Lease): Promise<Recorded> {
  const at = Date.parse(time) / 1000;
  if (event.type === 'trip.member.added' || event.type === 'trip.member.removed') {
    const change = event.type === 'trip.member.added' ? 'added' : 'removed';
    return membership.record(event.data.tripId, event.data.userId, { change, at }, lease);
  }
  return membership.record(event.data.tripId, undefined, { change: 'deleted', at }, lease);
}

function deliverTripEvent(event: TripEvent, time: string, lease: Lease, deps: RouteDeps): NowOrLater<Delivery> {
  if (!MEMBERSHIP_EVENTS.has(event.type)) return appendTripEntry(event, time, 'recorded', lease, deps);
  return andThen(recordMembership(event, time, deps.membership, lease), (recorded) => appendTripEntry(event, time, recorded, lease, deps));
}

function appendTripEntry(event: TripEvent, time: string, recorded: Recorded, lease: Lease, deps: RouteDeps): NowOrLater<Delivery> {
  const { tripId } = event.data;
  const stream = rooms.trip(tripId);
  const message = { eventId: event.id, type: event.type, tripId, time, source: event.source, data: event.data } as Omit<
    TripUpdatedMessage,
    'seq' | 'epoch'
  >;
  // A stale change is still an event of the trip, delivered as any other; but it changes nothing, so
  // nobody leaves and the stream is not dropped (a stale removal kicks no one, a stale deletion empties no room).
  const leave = recorded === 'stale' ? undefined : leaveOf(event);
  const drop = event.type === 'trip.deleted' && recorded !== 'stale';
  const appended = deps.streams.writeLock.run(stream, () =>
    deps.streams.trips.append({ stream, eventId: event.id, message, ...(leave ? { leave } : {}), drop }, lease),
  );
  return andThen(appended, deliveryOf);
}

function deliverNotification(
  event: Extract<NotificationEvent, { type: 'notification.created' }>,
  time: string,
  lease: Lease,
  deps: RouteDeps,
): NowOrLater<Delivery> {
  const { userId, userIds = [], notification } = event.data;
  const recipients = new Set(userId === undefined ? userIds : [userId, ...userIds]);
  // Each user has a stream of their own, so each copy carries that user's seq. The streams are
  // independent: all recipients are served at once (up to 1,000 round trips to a shared store
  // overlap), and the notifications lane still finishes this event before the next starts.
  const outcomes = [...recipients].map((recipient) => {
    const stream = rooms.user(recipient);
    const message = Object.assign({}, notification, { eventId: event.id, time });
    return deps.streams.writeLock.run(stream, () => deps.streams.users.append({ stream, eventId: event.id, message }, lease));
  });
  const delivery = (all: Appended[]): Delivery => (all.includes('appended') ? 'delivered' : 'duplicate');
  return outcomes.some((o) => o instanceof Promise) ? Promise.all(outcomes).then(delivery) : delivery(outcomes as Appended[]);
}
