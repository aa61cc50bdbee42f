import type { Channel, Connection } from 'rabbitmq-client';
import type { PublishedRecord } from './history.js';
import type { Rng } from './rng.js';

/** Confirms outstanding at most: past it, sending waits for the oldest. */
const WINDOW = 500;

interface Sendable {
  record: Omit<PublishedRecord, 't'>;
  body: Buffer;
}

export interface WorkloadOptions {
  trips: string[];
  /** Recipients of notifications: the clients' users and some who are never online. */
  users: string[];
  /** Steady events per second, besides the bursts. */
  rate: number;
}

/**
 * The campaign's publisher: numbered events to trips and users on one confirmed channel, so that
 * the order they were sent in is the order they entered the queue; every message it sends is
 * recorded, in that order, with the streams it must reach (or the reason it must be dead-lettered).
 */
export class Publisher {
  readonly published: PublishedRecord[] = [];
  private ch: Channel | undefined;
  private readonly pending: Array<Promise<unknown>> = [];
  private sent = 0;
  private readonly recent: Sendable[] = [];
  private steady: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  bursting = false;

  constructor(
    private readonly connection: Connection,
    private readonly exchange: string,
    private readonly rng: Rng,
    private readonly options: WorkloadOptions,
    private readonly idPrefix: string,
  ) {}

  async start(): Promise<void> {
    this.ch = await this.connection.acquire();
    await this.ch.confirmSelect();
    let debt = 0;
    let last = Date.now();
    // Every 20 ms, as many events as the rate owes since the last tick.
    this.steady = setInterval(() => {
      const now = Date.now();
      debt += ((now - last) / 1000) * this.options.rate;
      last = now;
      for (; debt >= 1; debt--) void this.send(this.draw());
    }, 20);
  }

  /** Sends `count` trip events as fast as the broker confirms them: a backlog for the consumer. */
  async burst(count: number): Promise<void> {
    this.bursting = true;
    for (let i = 0; i < count; i++) await this.send(this.tripEvent('trip.updated'));
    this.bursting = false;
  }

  /**
   * Redis is about to lose (or roll back) its state, the de-duplication window with it: an id sent
   * again after this is a new event to the bridge, so republishes pick only from what follows.
   */
  stateLost(): void {
    this.recent.length = 0;
  }

  /** Stops the steady stream and waits for every confirm; throws if the broker refused a message. */
  async stop(): Promise<void> {
    clearInterval(this.steady);
    await Promise.all(this.pending.splice(0));
    await this.ch?.close();
    if (this.failure) throw this.failure;
  }

  private async send(message: Sendable): Promise<void> {
    const ch = this.ch!;
    const { record, body } = message;
    this.published.push({ ...record, t: Date.now() });
    // Called in order and not awaited: the frames leave in this order, the confirms come back later.
    const confirm = ch
      .basicPublish(
        { exchange: this.exchange, routingKey: record.type, durable: true, contentType: 'application/json', messageId: record.id },
        body,
      )
      .catch((err: Error) => {
        this.failure ??= new Error(`the broker refused ${record.id}: ${err.message}`);
      });
    this.pending.push(confirm);
    if (this.pending.length >= WINDOW) await Promise.all(this.pending.splice(0, WINDOW / 2));
  }

  /** One event of the steady mix. */
  private draw(): Sendable {
    const roll = this.rng.next();
    if (roll < 0.01 && this.recent.length > 0) return this.republish();
    if (roll < 0.015) return this.invalid();
    if (roll < 0.09) return this.notification(1);
    if (roll < 0.12) return this.notification(this.rng.int(10, 40));
    return this.tripEvent(roll < 0.13 ? 'trip.activity' : 'trip.updated');
  }

  private nextId(): string {
    return `${this.idPrefix}-${++this.sent}`;
  }

  private envelope(id: string, type: string, data: unknown): Buffer {
    return Buffer.from(JSON.stringify({ specversion: '1.0', id, source: 'chaos', type, time: new Date().toISOString(), data }));
  }

  private remember(message: Sendable): Sendable {
    this.recent.push(message);
    if (this.recent.length > 200) this.recent.shift();
    return message;
  }

  private tripEvent(type: 'trip.updated' | 'trip.activity'): Sendable {
    const id = this.nextId();
    const tripId = this.rng.pick(this.options.trips);
    const data =
      type === 'trip.updated'
        ? { tripId, changes: { n: this.sent } }
        : { tripId, kind: 'vote', payload: { n: this.sent }, actorId: 'chaos' };
    return this.remember({ record: { id, type, streams: [`trip:${tripId}`], valid: true }, body: this.envelope(id, type, data) });
  }

  private notification(recipients: number): Sendable {
    const id = this.nextId();
    const users = this.rng.shuffle(this.options.users).slice(0, recipients);
    const notification = { type: 'info', title: `n${this.sent}`, message: 'chaos' };
    const data = users.length === 1 ? { userId: users[0], notification } : { userIds: users, notification };
    const streams = users.map((u) => `user:${u}`);
    return this.remember({ record: { id, type: 'notification.created', streams, valid: true }, body: this.envelope(id, 'notification.created', data) });
  }

  /** Invalid on purpose: it must end in the dead-letter queue with this reason, and reach nobody. */
  private invalid(): Sendable {
    const id = this.nextId();
    if (this.rng.chance(0.5)) {
      const body = this.envelope(id, 'trip.updated', { tripId: 'not an id', changes: {} });
      return { record: { id, type: 'trip.updated', streams: [], valid: false, expectedReason: 'invalid_data' }, body };
    }
    return { record: { id, type: 'trip.updated', streams: [], valid: false, expectedReason: 'invalid_json' }, body: Buffer.from(`{"id":"${id}",`) };
  }

  /** A recent event sent again, same id and body: it must not be delivered twice. */
  private republish(): Sendable {
    const earlier = this.rng.pick(this.recent);
    return { record: { ...earlier.record, republish: true }, body: earlier.body };
  }
}
