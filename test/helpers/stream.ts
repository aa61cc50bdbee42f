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

/**
 * Publishes `count` trip.updated events round-robin over `trips` as fast as the broker confirms them
 * (a window of 200 unconfirmed), in one channel's order, so that they pile up in the queue: a backlog.
 */
export async function publishBurst(
  amqp: TestAmqp,
  exchange: string,
  options: { trips: string[]; count: number; idPrefix?: string; firstStep?: number },
): Promise<PublishedEvent[]> {
  const ch = await amqp.connection.acquire();
  try {
    await ch.confirmSelect();
    const steps = new Map<string, number>();
    const published: PublishedEvent[] = [];
    let window: Array<Promise<unknown>> = [];
    for (let i = 0; i < options.count; i++) {
      const tripId = options.trips[i % options.trips.length]!;
      const step = (steps.get(tripId) ?? (options.firstStep ?? 1) - 1) + 1;
      steps.set(tripId, step);
      const id = `${options.idPrefix ?? 'burst'}-${tripId}-${step}`;
      const event = { specversion: '1.0', id, source: 'test-suite', type: 'trip.updated', time: new Date().toISOString(), data: { tripId, changes: { step } } };
      // Called in order without awaiting: the frames leave in this order, the confirms come back later.
      window.push(ch.basicPublish({ exchange, routingKey: 'trip.updated', durable: true, contentType: 'application/json' }, Buffer.from(JSON.stringify(event))));
      published.push({ id, tripId, step });
      if (window.length >= 200) {
        await Promise.all(window);
        window = [];
      }
    }
    await Promise.all(window);
    return published;
  } finally {
    await ch.close();
  }
}
