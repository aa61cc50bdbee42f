import type { ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumeConnection } from '../../src/broker/consume-connection.js';
import { QueueConsumer, type QueueConsumerOptions, type Settlement } from '../../src/broker/queue-consumer.js';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { until } from '../helpers/client.js';

describe.skipIf(!amqpUrl)('QueueConsumer against RabbitMQ', () => {
  const queue = uniqueName('queue-consumer');
  let amqp: TestAmqp;
  /** The consuming connection, as a bridge instance has one (amqplib's). */
  let consuming: ConsumeConnection;
  const consumers: QueueConsumer[] = [];

  const consume = (handler: (msg: ConsumeMessage) => Promise<Settlement>, prefetch = 50) => consumeWith(handler, prefetch);
  /** As consume, with a handler that may also answer at once. */
  const consumeWith = (handler: QueueConsumerOptions['handler'], prefetch = 50) => {
    const consumer = new QueueConsumer({
      connection: consuming,
      queue,
      prefetch,
      declare: async (ch) => void (await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } })),
      handler,
    });
    consumer.on('error', () => undefined);
    consumers.push(consumer);
    const ready = new Promise<void>((resolve) => consumer.once('ready', resolve));
    consumer.start();
    return { consumer, ready };
  };
  const publish = async (count: number) => {
    for (let i = 0; i < count; i++) await amqp.publishRaw('', queue, { n: i });
  };
  /**
   * The messages ready in the queue once the count settles at `expected` (or the last count after
   * 5 s): a quorum queue applies settlements a moment after the channel sent them.
   */
  const leftInQueue = async (expected: number) => {
    const deadline = Date.now() + 5_000;
    let count = await amqp.messageCount(queue);
    while (count !== expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      count = await amqp.messageCount(queue);
    }
    return count;
  };

  beforeAll(async () => {
    amqp = new TestAmqp(amqpUrl!);
    consuming = new ConsumeConnection({ url: amqpUrl!, name: uniqueName('queue-consumer-test') });
    await consuming.onConnect(10_000);
    await amqp.connection.queueDeclare({ queue, durable: true, arguments: { 'x-queue-type': 'quorum' } });
  });
  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.close()));
    await consuming?.close();
    await amqp?.cleanup([queue], []);
    await amqp?.close();
  });

  it('acknowledges every message it handled, out of order and in batches, so none is delivered again', async () => {
    const seen: number[] = [];
    const { consumer, ready } = consume(async (msg) => {
      // Finish in a scrambled order, so that runs of acknowledgements have gaps to wait for.
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      seen.push((JSON.parse(String(msg.content)) as { n: number }).n);
      return 'ack';
    });
    await ready;
    await publish(300);
    await until(() => seen.length >= 300, 10_000);
    await consumer.close();
    expect(new Set(seen).size).toBe(300);
    expect(await leftInQueue(0)).toBe(0);
  });

  it('acts at once on a settlement given at once: acknowledged, put back, or a throw put back', async () => {
    const seen: number[] = [];
    const errors: Error[] = [];
    const { consumer, ready } = consumeWith((msg) => {
      const { n } = JSON.parse(String(msg.content)) as { n: number };
      seen.push(n);
      // The first delivery of 1 is put back, the first of 2 throws (put back too): both come again.
      if (n === 1 && seen.filter((x) => x === 1).length === 1) return 'requeue';
      if (n === 2 && seen.filter((x) => x === 2).length === 1) throw new Error('handler threw at once');
      return 'ack';
    });
    consumer.on('error', (err) => errors.push(err));
    await ready;
    await publish(5);
    await until(() => seen.length >= 7, 5_000, 'every message, and the two put back again');
    expect(consumer.oldestInFlightSeconds()).toBe(0);
    await consumer.close();
    expect([...new Set(seen)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(seen.filter((n) => n === 1 || n === 2)).toHaveLength(4);
    expect(errors.map((e) => e.message)).toEqual(['handler threw at once']);
    expect(await leftInQueue(0)).toBe(0);
  });

  it('tells the age of its oldest message in flight, and how long each handler took', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handled: number[] = [];
    const consumer = new QueueConsumer({
      connection: consuming,
      queue,
      prefetch: 10,
      declare: async (ch) => void (await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } })),
      handler: async (msg) => {
        if ((JSON.parse(String(msg.content)) as { n: number }).n === 0) await gate;
        return 'ack' as const;
      },
      handled: (seconds) => handled.push(seconds),
    });
    consumers.push(consumer);
    const ready = new Promise<void>((resolve) => consumer.once('ready', resolve));
    consumer.start();
    await ready;
    expect(consumer.oldestInFlightSeconds()).toBe(0);
    await publish(3);
    await until(() => handled.length === 2, 5_000, 'the two quick handlers');
    await new Promise((r) => setTimeout(r, 300));
    // The first message still waits: the oldest in flight, whatever finished after it.
    expect(consumer.oldestInFlightSeconds()).toBeGreaterThanOrEqual(0.3);
    release();
    await until(() => handled.length === 3, 5_000, 'the held handler');
    expect(consumer.oldestInFlightSeconds()).toBe(0);
    expect(handled[2]).toBeGreaterThanOrEqual(0.3);
    expect(handled.slice(0, 2).every((s) => s < 0.3)).toBe(true);
    await consumer.close();
    expect(await leftInQueue(0)).toBe(0);
  });

  it('waits for handlers in flight when it closes, and puts back what they requeue', async () => {
    const acked: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = consume(async (msg) => {
      const { n } = JSON.parse(String(msg.content)) as { n: number };
      if (n % 2 === 0) {
        acked.push(n);
        return 'ack';
      }
      await gate;
      return 'requeue';
    }, 10);
    await first.ready;
    await publish(10);
    await until(() => acked.length >= 5, 5_000);
    const closed = first.consumer.close();
    release();
    await closed;
    expect(await leftInQueue(5)).toBe(5);
    const got: number[] = [];
    const second = consume(async (msg) => {
      got.push((JSON.parse(String(msg.content)) as { n: number }).n);
      return 'ack';
    });
    await second.ready;
    await until(() => got.length >= 5, 5_000);
    await second.consumer.close();
    expect(got.sort()).toEqual([1, 3, 5, 7, 9]);
    expect(await leftInQueue(0)).toBe(0);
  });

  it('keeps consuming past a delivery whose handler is stuck: the others are acknowledged one by one, and nothing twice', async () => {
    const handled: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const errors: Error[] = [];
    const { consumer, ready } = consume(async (msg) => {
      const { n } = JSON.parse(String(msg.content)) as { n: number };
      if (n === 0) await gate;
      handled.push(n);
      return 'ack';
    }, 10);
    consumer.on('error', (err) => errors.push(err));
    await ready;
    await publish(40);
    // With the first delivery stuck, a floor-only acknowledgement would stop at the prefetch count (10).
    await until(() => handled.length >= 39, 5_000, 'the 39 deliveries behind the stuck one');
    release();
    await until(() => handled.length >= 40, 5_000);
    await consumer.close();
    expect(errors).toEqual([]);
    expect(handled.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await leftInQueue(0)).toBe(0);
  });

  it('under a single active consumer, hands the queue over only after its handlers finished, in order', async () => {
    const sac = uniqueName('queue-consumer-sac');
    const declare = async (ch: Parameters<QueueConsumerOptions['declare']>[0]) =>
      void (await ch.assertQueue(sac, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true } }));
    const timeline: string[] = [];
    const started: QueueConsumer[] = [];
    const start = (name: string, delayMs: number) => {
      const consumer = new QueueConsumer({
        connection: consuming,
        queue: sac,
        prefetch: 10,
        declare,
        handler: async (msg) => {
          const { n } = JSON.parse(String(msg.content)) as { n: number };
          await new Promise((r) => setTimeout(r, delayMs));
          timeline.push(`${name}:${n}`);
          return 'ack' as const;
        },
      });
      consumer.on('error', () => undefined);
      started.push(consumer);
      const ready = new Promise<void>((resolve) => consumer.once('ready', resolve));
      consumer.start();
      return { consumer, ready };
    };
    try {
      const a = start('a', 30);
      await a.ready;
      const b = start('b', 0);
      await b.ready;
      for (let i = 0; i < 40; i++) await amqp.publishRaw('', sac, { n: i });
      await until(() => timeline.length >= 3, 5_000, 'a to handle a few');
      await a.consumer.close();
      await until(() => timeline.length >= 40, 10_000, 'b to handle the rest');
      const lastOfA = timeline.findLastIndex((entry) => entry.startsWith('a:'));
      const firstOfB = timeline.findIndex((entry) => entry.startsWith('b:'));
      // Nothing of b's before a finished: the two never handled the queue at the same time.
      expect(firstOfB).toBeGreaterThan(lastOfA);
      expect(timeline.map((entry) => Number(entry.split(':')[1]))).toEqual(Array.from({ length: 40 }, (_, i) => i));
    } finally {
      // Closed first: a consumer whose queue is deleted declares it again on its next channel.
      await Promise.all(started.map((c) => c.close()));
      await amqp.cleanup([sac]);
    }
  });

  it('consumes again after the broker cancels it (its queue was deleted and declared again)', async () => {
    const got: number[] = [];
    const { consumer, ready } = consume(async (msg) => {
      got.push((JSON.parse(String(msg.content)) as { n: number }).n);
      return 'ack';
    });
    await ready;
    const again = new Promise<void>((resolve) => consumer.once('ready', resolve));
    await amqp.connection.queueDelete({ queue });
    await again;
    await publish(3);
    await until(() => got.length >= 3, 5_000);
    await consumer.close();
    expect(got.sort()).toEqual([0, 1, 2]);
  });
});
