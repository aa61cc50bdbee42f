import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumeConnection } from '../../src/broker/consume-connection.js';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { until } from '../helpers/client.js';
import { closeConnectionsNamed, rabbitmqctlAvailable } from '../helpers/rabbitmqctl.js';

const broker = amqpUrl ? new URL(amqpUrl) : undefined;
const canCloseFromBroker = (broker?.hostname === '127.0.0.1' || broker?.hostname === 'localhost') && (await rabbitmqctlAvailable());

describe.skipIf(!amqpUrl)('the consuming connection (amqplib)', () => {
  const queue = uniqueName('consume-connection');
  let amqp: TestAmqp;

  beforeAll(async () => {
    amqp = new TestAmqp(amqpUrl!);
    await amqp.connection.queueDeclare({ queue, durable: true, arguments: { 'x-queue-type': 'quorum' } });
  });
  afterAll(async () => {
    await amqp?.cleanup([queue], []);
    await amqp?.close();
  });

  it('refuses a channel while it is down, at once, and gives one once connected', async () => {
    const connection = new ConsumeConnection({ url: amqpUrl!, name: uniqueName('cc-down') });
    await expect(connection.channel()).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await connection.onConnect(10_000);
    expect(connection.ready).toBe(true);
    const ch = await connection.channel();
    expect((await ch.checkQueue(queue)).queue).toBe(queue);
    await ch.close();
    await connection.close();
    expect(connection.ready).toBe(false);
    await expect(connection.channel()).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    // Closed for good: waiting for a connection fails at once, not after the timeout.
    const started = Date.now();
    await expect(connection.onConnect(5_000)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('sends to a queue on its confirm channel, with the properties given, and resolves once confirmed', async () => {
    const connection = new ConsumeConnection({ url: amqpUrl!, name: uniqueName('cc-send') });
    await connection.onConnect(10_000);
    const body = Buffer.from('{"padded":  true}');
    await connection.sendConfirmed(queue, body, { persistent: true, contentType: 'application/json', messageId: 'm-1', headers: { 'x-why': 'test' } });
    const [message] = await amqp.drain(queue, 1, 5_000);
    expect(message).toMatchObject({ messageId: 'm-1', contentType: 'application/json', headers: { 'x-why': 'test' }, durable: true });
    await connection.close();
  });

  it.skipIf(!canCloseFromBroker)('connects again, under its name, after the broker closes it, and says so', async () => {
    const name = uniqueName('cc-closed');
    const connection = new ConsumeConnection({ url: amqpUrl!, name });
    const errors: Error[] = [];
    let connections = 0;
    connection.on('error', (err) => errors.push(err));
    connection.on('connection', () => connections++);
    await connection.onConnect(10_000);
    expect(connections).toBe(1);
    expect(await closeConnectionsNamed(name)).toBe(1);
    await until(() => errors.length > 0, 5_000, 'the loss to be reported');
    await until(() => connections === 2 && connection.ready, 10_000, 'the connection to come back');
    expect((await connection.channel()).connection).toBeDefined();
    await connection.close();
    // Closed for good: no further attempt.
    await new Promise((r) => setTimeout(r, 600));
    expect(connections).toBe(2);
  });
});
