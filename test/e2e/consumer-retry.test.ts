import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from '../../consumers/dispatcher.js';
import { EventConsumer } from '../../src/broker/event-consumer.js';
import { bridgeTopology } from '../../src/broker/topology.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { until } from '../helpers/client.js';

describe.skipIf(!amqpUrl)('a handler that fails on a valid event', () => {
  const name = uniqueName('retry');
  const topology = bridgeTopology(`${name}.events`, name);
  const attempts = new Map<string, number>();
  const delivered: string[] = [];
  let failuresBeforeSuccess: Record<string, number> = {};
  let connection: Connection;
  let consumer: EventConsumer;
  let amqp: TestAmqp;
  const metrics = new Metrics(() => 0);

  // The real consumer and broker; only the dispatcher is scripted, to fail on demand.
  const dispatcher: Dispatcher = {
    async dispatch(body) {
      const { id } = JSON.parse(String(body)) as { id: string };
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (n <= (failuresBeforeSuccess[id] ?? 0)) throw new Error(`handler exploded on ${id}`);
      delivered.push(id);
      return { kind: 'duplicate', eventId: id };
    },
  };

  beforeAll(async () => {
    connection = new Connection({ url: amqpUrl!, retryLow: 100 });
    consumer = new EventConsumer({ connection, topology, prefetch: 10, dispatcher, metrics, logger: createLogger('silent') });
    await consumer.start();
    amqp = new TestAmqp(amqpUrl!);
  });
  afterAll(async () => {
    await consumer?.close();
    await amqp?.cleanup([name, `${name}.dead-letter`], [`${name}.events`]);
    await amqp?.close();
    await connection?.close();
  });

  const send = (id: string) => amqp.publishRaw(`${name}.events`, 'trip.updated', { id });

  it('is retried once through the broker and then succeeds', async () => {
    failuresBeforeSuccess = { flaky: 1 };
    await send('flaky');
    await until(() => delivered.includes('flaky'), 5000, 'the retry');
    expect(attempts.get('flaky')).toBe(2);
  });

  it('is dead-lettered as handler_failed after its retry, without blocking the next message', async () => {
    failuresBeforeSuccess = { broken: 99 };
    await send('broken');
    await send('after-broken');
    await until(() => delivered.includes('after-broken'), 5000, 'the next message');
    const [dead] = await amqp.drain(`${name}.dead-letter`, 1, 5000);
    expect(dead?.headers?.['x-rejection-reason']).toBe('handler_failed');
    expect(String(dead?.headers?.['x-rejection-detail'])).toContain('handler exploded on broken');
    expect(attempts.get('broken')).toBe(2);
    expect(await amqp.messageCount(name)).toBe(0);
  });
});
