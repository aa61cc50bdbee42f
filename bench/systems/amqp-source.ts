import { createEventPublisher, type EventPublisher } from '../../src/broker/publisher.js';
import { now, sleep } from '../lib/clock.js';
import { pace, type PaceResult } from '../lib/pacer.js';
import { tripIdOf } from '../lib/events.js';
import type { BroadcastPlan, TripPlan } from './types.js';

/** Unconfirmed publishes allowed at once: confirms are pipelined, never awaited one by one. */
const MAX_IN_FLIGHT = 2000;

/**
 * The publisher side of the bridge and the naive forwarder: the package's typed publisher
 * (`createEventPublisher`: contract check, CloudEvents envelope, persistent, publisher confirms),
 * as a backend service would use it, with many confirms in flight.
 */
export class AmqpSource {
  private readonly publisher: EventPublisher;
  private inFlight = 0;
  failures = 0;
  lastError: string | undefined;

  constructor(url: string, exchange: string) {
    this.publisher = createEventPublisher({ connection: url, exchange, source: 'bench', onError: () => undefined });
  }

  /** Starts one publish unless too many are unconfirmed; false means "try again later". */
  private publish(start: () => Promise<unknown>): boolean {
    if (this.inFlight >= MAX_IN_FLIGHT) return false;
    this.inFlight += 1;
    start().then(
      () => (this.inFlight -= 1),
      (err: unknown) => {
        this.inFlight -= 1;
        this.failures += 1;
        this.lastError = (err as Error).message;
      },
    );
    return true;
  }

  private tripEvent(tripId: string, step: string): boolean {
    return this.publish(() => this.publisher.publish('trip.updated', { tripId, changes: { sentAt: now(), step } }));
  }

  /** Waits for every outstanding confirm (bounded). */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(2);
  }

  async sendTrips(plan: TripPlan): Promise<PaceResult> {
    const result = await pace(plan.rate, plan.durationMs, (n) => this.tripEvent(plan.trips[n % plan.trips.length] ?? '', plan.step));
    await this.settled();
    return result;
  }

  async sendBroadcasts(plan: BroadcastPlan): Promise<PaceResult> {
    const result = await pace(plan.rate, plan.durationMs, () =>
      this.publish(() =>
        this.publisher.publish('notification.broadcast', {
          notification: { type: 'info', title: 'bench', message: 'broadcast', data: { sentAt: now(), step: plan.step } },
        }),
      ),
    );
    await this.settled();
    return result;
  }

  /** Publishes `count` trip events as fast as the confirms come back; returns events per second. */
  async fill(count: number, trips: number, step: string, timeoutMs = 300_000): Promise<{ perSecond: number }> {
    const start = now();
    const deadline = Date.now() + timeoutMs;
    let sent = 0;
    while (sent < count && Date.now() < deadline) {
      while (sent < count && this.tripEvent(tripIdOf(sent % trips), step)) sent += 1;
      await sleep(1);
    }
    await this.settled(timeoutMs);
    if (sent < count || this.failures > 0) {
      throw new Error(`filled ${sent - this.failures} of ${count} events (${this.lastError ?? 'timed out'})`);
    }
    return { perSecond: count / ((now() - start) / 1000) };
  }

  close(): Promise<void> {
    return this.publisher.close();
  }
}
