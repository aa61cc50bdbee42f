import type { TestAmqp } from './amqp.js';

export interface PublishedEvent {
  id: string;
  tripId: string;
  step: number;
}

/**
 * Publishes `count` trip.updated events round-robin over `trips`, each with `changes.step` counting
 * 1, 2, 3… per trip, `pauseMs` apart, and resolves with what it published (in order).
 */
export async function publishTripStream(
  amqp: TestAmqp,
  exchange: string,
  options: { trips: string[]; count: number; pauseMs?: number; idPrefix?: string },
): Promise<PublishedEvent[]> {
  const steps = new Map<string, number>();
  const published: PublishedEvent[] = [];
  for (let i = 0; i < options.count; i++) {
    const tripId = options.trips[i % options.trips.length]!;
    const step = (steps.get(tripId) ?? 0) + 1;
    steps.set(tripId, step);
    const id = `${options.idPrefix ?? 'evt'}-${tripId}-${step}`;
    await amqp.publishEvent(exchange, 'trip.updated', { tripId, changes: { step } }, { id });
    published.push({ id, tripId, step });
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  }
  return published;
}

/** The `changes.step` of a received `trip:updated`. */
export function stepOf(event: { data: unknown }): number {
  return (event.data as { changes: { step: number } }).changes.step;
}
