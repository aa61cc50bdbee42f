import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../contracts/index.js';
import type { Dispatcher } from '../../consumers/dispatcher.js';
import { EventConsumer, HANDLER_RETRY_DELAYS_MS, REDELIVERY_LIMIT } from '../../src/broker/event-consumer.js';
import { ConsumeConnection } from '../../src/broker/consume-connection.js';
import { bridgeTopology } from '../../src/broker/topology.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { MemoryFence } from '../../src/state/memory-stores.js';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { until } from '../helpers/client.js';

describe.skipIf(!amqpUrl)('a handler that fails on a valid event', () => {
  const name = uniqueName('retry');
  const exchange = `${name}.events`;
  const topology = bridgeTopology(exchange, name);
  const attempts = new Map<string, number>();
  const handled: string[] = [];
  let failuresBeforeSuccess: Record<string, number> = {};
  let connection: Connection;
  /** The consuming connection the EventConsumer runs on, as a bridge instance has one (amqplib's). */
  let consuming: ConsumeConnection;
  let consumer: EventConsumer | undefined;
  let amqp: TestAmqp;
  const metrics = new Metrics(() => 0);
  const fence = new MemoryFence();

  // The real consumer and broker; only the dispatcher is scripted, to fail on demand.
  const dispatcher: Dispatcher = {
    decode(body) {
      try {
        return { ok: true, event: JSON.parse(String(body)) as BridgeEvent };
      } catch {
        return { ok: false, reason: 'invalid_json', detail: 'not JSON' };
      }
    },
    async deliver({ id }) {
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (n <= (failuresBeforeSuccess[id] ?? 0)) throw new Error(`handler exploded on ${id}`);
      if (id.startsWith('slow')) await new Promise((r) => setTimeout(r, 200));
      handled.push(id);
      return 'delivered' as const;
    },
  };
  const startConsumer = async () => {
    consumer = new EventConsumer({ connection: consuming, topology, prefetch: 10, dispatcher, fence, metrics, logger: createLogger('silent') });
    await consumer.start();
  };

  beforeAll(async () => {
    connection = new Connection({ url: amqpUrl!, retryLow: 100 });
    consuming = new ConsumeConnection({ url: amqpUrl!, name: `${name}:consume` });
    await consuming.onConnect(10_000);
    amqp = new TestAmqp(amqpUrl!);
  });
  afterAll(async () => {
    await consumer?.close();
    await amqp?.cleanup([name, `${name}.dead-letter`], [exchange]);
    await amqp?.close();
    await connection?.close();
    await consuming?.close();
  });

  // One trip: its events share a lane, whose order is what these tests watch.
  const send = (id: string) => amqp.publishRaw(exchange, 'trip.updated', { id, type: 'trip.updated', data: { tripId: 'retry-trip' } });

  it('dead-letters, unhandled, a message that was delivered too often without an ack (a crash loop)', async () => {
    // Declare the topology, then play a consumer that dies on the message: take it, never ack, drop the channel.
    await startConsumer();
    await consumer!.close();
    await send('crashes-the-process');
    for (let i = 0; i < REDELIVERY_LIMIT; i++) {
      const ch = await connection.acquire();
      await ch.basicQos({ prefetchCount: 1 });
      const got = new Promise<void>((resolve) => {
        void ch.basicConsume({ queue: name }, () => resolve());
      });
      await got;
      await ch.close();
    }
    await startConsumer();
    const [dead] = await amqp.drain(`${name}.dead-letter`, 1, 5000);
    expect(dead?.headers?.['x-rejection-reason']).toBe('handler_failed');
    expect(String(dead?.headers?.['x-rejection-detail'])).toContain(`delivered ${REDELIVERY_LIMIT + 1} times`);
    expect(attempts.has('crashes-the-process')).toBe(false);
  });

  it('delivers valid events in queue order although the consumer handles many messages at once', async () => {
    await send('slow-first');
    await send('quick-second');
    await amqp.publishRaw(exchange, 'trip.updated', '{not json');
    await send('quick-third');
    await until(() => handled.includes('quick-third'), 5000, 'the three events');
    expect(handled.slice(-3)).toEqual(['slow-first', 'quick-second', 'quick-third']);
    const [dead] = await amqp.drain(`${name}.dead-letter`, 1, 5000);
    expect(dead?.headers?.['x-rejection-reason']).toBe('invalid_json');
  });

  it('lets the events of another trip overtake a slow one: order is kept per trip', async () => {
    await send('slow-trip-a');
    await amqp.publishRaw(exchange, 'trip.updated', { id: 'quick-trip-b', type: 'trip.updated', data: { tripId: 'other-trip' } });
    await until(() => handled.includes('slow-trip-a'), 5000, 'both events');
    expect(handled.indexOf('quick-trip-b')).toBeLessThan(handled.indexOf('slow-trip-a'));
  });

  it('is retried in place, so a later event of the same queue does not overtake it', async () => {
    failuresBeforeSuccess = { flaky: 1 };
    await send('flaky');
    await send('after-flaky');
    await until(() => handled.includes('after-flaky'), 5000, 'both events');
    expect(attempts.get('flaky')).toBe(2);
    expect(handled.indexOf('flaky')).toBeLessThan(handled.indexOf('after-flaky'));
  });

  it('is dead-lettered as handler_failed after its last attempt, without blocking the next message', async () => {
    failuresBeforeSuccess = { broken: 99 };
    await send('broken');
    await send('after-broken');
    await until(() => handled.includes('after-broken'), 5000, 'the next message');
    const [dead] = await amqp.drain(`${name}.dead-letter`, 1, 5000);
    expect(dead?.headers?.['x-rejection-reason']).toBe('handler_failed');
    expect(String(dead?.headers?.['x-rejection-detail'])).toContain('handler exploded on broken');
    expect(attempts.get('broken')).toBe(HANDLER_RETRY_DELAYS_MS.length + 1);
    expect(await amqp.messageCount(name)).toBe(0);
  });
});
