import { randomUUID } from 'node:crypto';

/**
 * What every system carries in each event so that the load client can time it: the publisher's
 * clock at publish (or, for the ceiling, at emit), and the step of the scenario it belongs to.
 */
export interface Stamp {
  sentAt: number;
  step: string;
}

/** The names of trips and users in every scenario, the same for every system. */
export const tripIdOf = (index: number) => `bench-trip-${index}`;
export const userIdOf = (index: number) => `bench-user-${index}`;

/** How many of `clients` sockets each of `trips` trips holds, when client i joins trip i % trips. */
export const membersPerTrip = (clients: number, trips: number) =>
  Array.from({ length: trips }, (_, t) => Math.floor(clients / trips) + (t < clients % trips ? 1 : 0));

/**
 * A `trip:updated` payload shaped like the bridge's (minus `seq`/`epoch`, which only the bridge
 * numbers), so that every system puts about the same bytes on the wire.
 */
export function tripMessage(tripId: string, stamp: Stamp) {
  return {
    eventId: randomUUID(),
    type: 'trip.updated',
    tripId,
    time: new Date().toISOString(),
    source: 'bench',
    data: { tripId, changes: { ...stamp } },
  };
}

/** A `notification` payload shaped like the bridge's broadcast. */
export function broadcastMessage(stamp: Stamp) {
  return {
    eventId: randomUUID(),
    time: new Date().toISOString(),
    type: 'info' as const,
    title: 'bench',
    message: 'broadcast',
    data: { ...stamp },
  };
}

function isStamp(value: unknown): value is Stamp {
  const v = value as Partial<Stamp> | undefined;
  return typeof v?.sentAt === 'number' && typeof v.step === 'string';
}

/** The stamp inside a received `trip:updated` or `notification`, if it is a benchmark event. */
export function stampOf(event: 'trip:updated' | 'notification', payload: unknown): Stamp | undefined {
  const p = payload as { data?: { changes?: unknown } } | undefined;
  const stamp = event === 'trip:updated' ? p?.data?.changes : p?.data;
  return isStamp(stamp) ? stamp : undefined;
}
