import { afterAll, describe, expect, it } from 'vitest';
import { createEventPublisher, InvalidEventError, PublishUnavailableError } from '../../src/broker/publisher.js';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';

describe.skipIf(!amqpUrl)('the typed publisher for backend services', () => {
  const exchange = uniqueName('publisher');
  const queue = `${exchange}.q`;
  const amqp = amqpUrl ? new TestAmqp(amqpUrl) : undefined;
  const publisher = createEventPublisher({ connection: amqpUrl ?? '', exchange, source: 'trip-service' });

  afterAll(async () => {
    await publisher.close();
    await amqp?.cleanup([queue], [exchange]);
    await amqp?.close();
  });

  it('publishes right after it is created, as a persistent CloudEvent routed by its type', async () => {
    const first = publisher.publish('trip.updated', { tripId: 'trip-1', changes: { name: 'Alps' } }, { id: 'evt-1' });
    await expect(first).resolves.toEqual({ eventId: 'evt-1' });
    await amqp!.connection.exchangeDeclare({ exchange, type: 'topic', durable: true });
    await amqp!.connection.queueDeclare({ queue, exclusive: true });
    await amqp!.connection.queueBind({ queue, exchange, routingKey: 'trip.#' });
    await publisher.publish('trip.member.added', { tripId: 'trip-1', userId: 'u2' });
    const [message] = await amqp!.drain(queue, 1);
    expect(message).toMatchObject({ routingKey: 'trip.member.added', durable: true, contentType: 'application/cloudevents+json' });
    expect(JSON.parse(String(message?.body))).toMatchObject({
      specversion: '1.0',
      source: 'trip-service',
      type: 'trip.member.added',
      time: expect.any(String),
      data: { tripId: 'trip-1', userId: 'u2' },
    });
  });

  it('refuses data that breaks the contract before anything is sent', async () => {
    await expect(publisher.publish('trip.updated', { tripId: 'bad id', changes: {} })).rejects.toThrow(InvalidEventError);
    // @ts-expect-error — the types refuse data that is not an object
    await expect(publisher.publish('trip.deleted', null)).rejects.toThrow(/^trip\.deleted: data: /);
    // @ts-expect-error — the types already refuse a missing field
    await expect(publisher.publish('notification.broadcast', {})).rejects.toThrow(/notification/);
  });

  it('fails with PublishUnavailableError, without crashing, when the broker cannot be reached', async () => {
    const errors: Error[] = [];
    const unreachable = createEventPublisher({
      connection: 'amqp://guest:guest@127.0.0.1:1',
      source: 'trip-service',
      waitForConnectionMs: 500,
      onError: (err) => errors.push(err),
    });
    await expect(unreachable.publish('trip.deleted', { tripId: 't' })).rejects.toThrow(PublishUnavailableError);
    expect(errors.length).toBeGreaterThan(0);
    await unreachable.close();
  });
});
