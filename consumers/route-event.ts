import type { BridgeEvent, NotificationEvent, TripEvent, TripUpdatedMessage } from '../contracts/index.js';
import type { MembershipStore } from '../src/state/stores.js';
import type { Streams } from '../src/state/streams.js';
import { rooms, type FanoutPort } from './ports.js';

export interface RouteDeps {
  fanout: FanoutPort;
  streams: Streams;
  membership: MembershipStore;
}

/** Delivers one validated event to the rooms the contract names for its type. */
export async function routeEvent(event: BridgeEvent, deps: RouteDeps): Promise<void> {
  // Events without `time` are stamped when the bridge handles them.
  const time = event.time ?? new Date().toISOString();
  switch (event.type) {
    case 'notification.created':
      return deliverNotification(event, time, deps);
    case 'notification.broadcast':
      deps.fanout.toAll({ event: 'notification', payload: { ...event.data.notification, eventId: event.id, time } });
      return;
    default:
      return deliverTripEvent(event, time, deps);
  }
}

/** The trip events that change who may join; only they touch the membership store. */
const MEMBERSHIP_EVENTS: ReadonlySet<TripEvent['type']> = new Set(['trip.member.added', 'trip.member.removed', 'trip.deleted']);

/** Membership changes are recorded before the event goes out, so that a join racing with it sees them. */
async function recordMembership(event: TripEvent, time: string, membership: MembershipStore): Promise<void> {
  const at = Math.floor(Date.parse(time) / 1000);
  if (event.type === 'trip.member.added' || event.type === 'trip.member.removed') {
    const change = event.type === 'trip.member.added' ? 'added' : 'removed';
    await membership.record(event.data.tripId, event.data.userId, { change, at });
  } else if (event.type === 'trip.deleted') {
    await membership.recordDeleted(event.data.tripId, at);
  }
}

async function deliverTripEvent(event: TripEvent, time: string, deps: RouteDeps): Promise<void> {
  const { tripId } = event.data;
  const room = rooms.trip(tripId);
  if (MEMBERSHIP_EVENTS.has(event.type)) await recordMembership(event, time, deps.membership);
  await deps.streams.writeLock.run(room, async () => {
    const message = await deps.streams.trips.append(
      room,
      event.id,
      ({ seq, epoch }) =>
        ({ eventId: event.id, type: event.type, tripId, seq, epoch, time, source: event.source, data: event.data }) as TripUpdatedMessage,
    );
    deps.fanout.toRoom(room, { event: 'trip:updated', payload: message });

    // The event itself goes out first, so that the people leaving see why.
    if (event.type === 'trip.member.removed') await deps.fanout.leaveTrip(tripId, 'removed', event.data.userId);
    if (event.type === 'trip.deleted') {
      await deps.fanout.leaveTrip(tripId, 'deleted');
      await deps.streams.trips.drop(room);
    }
  });
}

async function deliverNotification(
  event: Extract<NotificationEvent, { type: 'notification.created' }>,
  time: string,
  deps: RouteDeps,
): Promise<void> {
  const { userId, userIds = [], notification } = event.data;
  const recipients = new Set(userId === undefined ? userIds : [userId, ...userIds]);
  // Each user has a stream of their own, so each copy carries that user's seq. The streams are
  // independent: all recipients are served at once (up to 1,000 round trips to a shared store
  // overlap), and the notifications lane still finishes this event before the next starts.
  await Promise.all(
    [...recipients].map((recipient) => {
      const room = rooms.user(recipient);
      return deps.streams.writeLock.run(room, async () => {
        const message = await deps.streams.users.append(room, event.id, ({ seq, epoch }) => ({
          ...notification,
          eventId: event.id,
          seq,
          epoch,
          time,
        }));
        deps.fanout.toRoom(room, { event: 'notification', payload: message });
      });
    }),
  );
}
