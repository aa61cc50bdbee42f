import { afterEach, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until } from '../helpers/client.js';
import { closeConnectionsNamed, rabbitmqctlAvailable } from '../helpers/rabbitmqctl.js';
import { publishTripStream, stepOf } from '../helpers/stream.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { signToken } from '../helpers/tokens.js';

const broker = amqpUrl ? new URL(amqpUrl) : undefined;
const localBroker = broker?.hostname === '127.0.0.1' || broker?.hostname === 'localhost';
const canCloseFromBroker = localBroker && (await rabbitmqctlAvailable());
const TRIPS = ['fault-a', 'fault-b', 'fault-c', 'fault-d'];

describe.skipIf(!amqpUrl)('broker faults mid-stream', () => {
  let t: TestBridge | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await t?.stop();
    await proxy?.close();
    t = undefined;
    proxy = undefined;
  });

  /** A client joined to every trip, collecting what it receives. */
  async function watchAllTrips(bridge: TestBridge) {
    const { socket } = await connectClient(bridge.url, await signToken({ sub: 'watcher', trips: TRIPS }));
    for (const tripId of TRIPS) await request(socket, 'trip:join', { tripId });
    return { socket, received: collect(socket, 'trip:updated') };
  }

  /** Every trip's events arrived once each, in publish order, with consecutive seq. */
  function expectCompleteOrderedStreams(received: Array<{ tripId: string; seq: number; data: unknown }>, perTrip: number) {
    for (const tripId of TRIPS) {
      const events = received.filter((e) => e.tripId === tripId);
      expect(events.map(stepOf)).toEqual(Array.from({ length: perTrip }, (_, i) => i + 1));
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: perTrip }, (_, i) => i + 1));
    }
  }

  it('survives a network cut: reconnects by itself, reports degraded meanwhile, and delivers every event once, in order', async () => {
    proxy = await startTcpProxy(broker!.hostname, Number(broker!.port || 5672));
    const viaProxy = new URL(amqpUrl!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    t = await startTestBridge({ AMQP_URL: viaProxy.href });
    const { socket, received } = await watchAllTrips(t);
    const token = await signToken({ sub: 'watcher', trips: TRIPS });

    const publishing = publishTripStream(t.amqp, t.config.AMQP_EXCHANGE, { trips: TRIPS, count: 400, pauseMs: 2 });
    publishing.catch(() => undefined); // awaited below; a failed assertion first must not leave it unhandled
    await until(() => received.length >= 100, 10_000, 'the first 100 events');
    proxy.cut();

    const health = await fetch(`${t.url}/api/v1/socket/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ success: false, data: { status: 'degraded' }, error: { code: 'unavailable' } });
    const testRoute = await fetch(`${t.url}/api/v1/socket/test-trip-update`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ tripId: 'fault-a', changes: {} }),
    });
    expect(testRoute.status).toBe(503);
    expect(await testRoute.json()).toMatchObject({ error: { code: 'unavailable' } });

    await new Promise((r) => setTimeout(r, 1000));
    proxy.restore();
    await publishing;
    await until(() => received.length >= 400, 30_000, 'all 400 events after the cut');
    await new Promise((r) => setTimeout(r, 300));
    expectCompleteOrderedStreams(received, 100);
    let status = 0;
    for (let i = 0; i < 150 && status !== 200; i++) {
      status = (await fetch(`${t.url}/api/v1/socket/health`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(await t.bridge.metrics.brokerReconnects.get()).toMatchObject({
      values: expect.arrayContaining([expect.objectContaining({ labels: { connection: 'consume' } })]),
    });
    socket.disconnect();
  });

  it.skipIf(!canCloseFromBroker)(
    'survives the broker closing its connections (rabbitmqctl close_connection), delivering every event once, in order',
    async () => {
      t = await startTestBridge();
      const { socket, received } = await watchAllTrips(t);
      const publishing = publishTripStream(t.amqp, t.config.AMQP_EXCHANGE, { trips: TRIPS, count: 400, pauseMs: 2 });
      publishing.catch(() => undefined); // awaited below; a failed assertion first must not leave it unhandled
      await until(() => received.length >= 100, 10_000, 'the first 100 events');
      expect(await closeConnectionsNamed(`realtime-bridge:${t.config.AMQP_QUEUE}:`)).toBe(2);
      await publishing;
      await until(() => received.length >= 400, 30_000, 'all 400 events after the close');
      await new Promise((r) => setTimeout(r, 300));
      expectCompleteOrderedStreams(received, 100);
      socket.disconnect();
    },
    60_000,
  );

  it('lets valid events flow through a flood of poison messages, each dead-lettered with its reason', async () => {
    t = await startTestBridge();
    const { socket, received } = await watchAllTrips(t);
    const poison: Array<[string, string | object]> = [
      ['invalid_json', '{"specversion":'],
      ['invalid_envelope', { specversion: '1.0', type: 'trip.updated' }],
      ['unknown_type', { specversion: '1.0', id: 'u', source: 's', type: 'trip.exploded', data: {} }],
      ['invalid_data', { specversion: '1.0', id: 'd', source: 's', type: 'trip.updated', data: { tripId: '' } }],
    ];
    const expected = new Map<string, number>();
    const sends: Promise<void>[] = [];
    let valid = 0;
    for (let i = 0; i < 2000; i++) {
      const [reason, body] = poison[i % poison.length]!;
      expected.set(reason, (expected.get(reason) ?? 0) + 1);
      sends.push(t.amqp.publishRaw(t.config.AMQP_EXCHANGE, 'trip.updated', body));
      if (i % 10 === 0) {
        valid += 1;
        sends.push(t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId: 'fault-a', changes: { step: valid } }).then(() => undefined));
      }
    }
    await Promise.all(sends);
    await until(() => received.length === valid, 30_000, 'every valid event');
    expect(received.map(stepOf)).toEqual(Array.from({ length: valid }, (_, i) => i + 1));

    const dead = await t.amqp.drain(`${t.config.AMQP_QUEUE}.dead-letter`, 2000, 30_000);
    const reasons = new Map<string, number>();
    for (const m of dead) reasons.set(String(m.headers?.['x-rejection-reason']), (reasons.get(String(m.headers?.['x-rejection-reason'])) ?? 0) + 1);
    expect(reasons).toEqual(expected);
    expect(await t.amqp.messageCount(t.config.AMQP_QUEUE)).toBe(0);
    expect((await fetch(`${t.url}/api/v1/socket/health`)).status).toBe(200);
    socket.disconnect();
  }, 90_000);
});
