import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, metricSample as sample, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until } from '../helpers/client.js';
import { signToken } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('the latency metrics operators read', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('counts each event handed out by its lag since the event time, each handler, each connection, and the oldest message in flight', async () => {
    const tripId = 'lag-trip';
    const { socket } = await connectClient(t.url, await signToken({ sub: 'lag-user', trips: [tripId] }));
    await request(socket, 'trip:join', { tripId });
    const received = collect(socket, 'trip:updated');
    const notes = collect(socket, 'notification');
    // An event stamped 2 s ago: its lag lands above the 1 s bucket.
    const old = new Date(Date.now() - 2_000).toISOString();
    for (let i = 0; i < 4; i++) await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: { i } });
    await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: { i: 4 } }, { time: old });
    await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'notification.broadcast', { notification: { type: 'info', title: 't', message: 'm' } });
    await until(() => received.length === 5 && notes.length === 1, 5_000, 'the events');

    expect(await sample(t.url, 'bridge_delivery_lag_seconds_count{stream="trip"}')).toBe(5);
    expect(await sample(t.url, 'bridge_delivery_lag_seconds_bucket{le="1",stream="trip"}')).toBe(4);
    expect(await sample(t.url, 'bridge_delivery_lag_seconds_count{stream="broadcast"}')).toBe(1);
    expect(await sample(t.url, 'bridge_handler_duration_seconds_count')).toBe(6);
    expect(await sample(t.url, 'bridge_oldest_unacked_seconds')).toBe(0);
    expect(await sample(t.url, 'bridge_connection_duration_seconds_count')).toBe(0);
    socket.disconnect();
    for (let i = 0; i < 50 && (await sample(t.url, 'bridge_connection_duration_seconds_count')) !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await sample(t.url, 'bridge_connection_duration_seconds_count')).toBe(1);
    // The runtime's own event-loop delay comes with prom-client's defaults.
    expect(await sample(t.url, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
  });
});
