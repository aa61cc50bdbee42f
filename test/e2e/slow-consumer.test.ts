import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridgeClient, type BridgeClient } from '../../src/client/index.js';
import { amqpUrl, metricSample, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, until, type TestSocket } from '../helpers/client.js';
import { stepOf } from '../helpers/stream.js';
import { signToken } from '../helpers/tokens.js';

const CAP = 256 * 1024;
/** Larger than what loopback's kernel buffers absorb on both ends (a few MB), several times over. */
const EVENTS = 1200;
const PAYLOAD = 'x'.repeat(16 * 1024);

/** The WebSocket under a socket.io-client socket: pausing its TCP socket is a client that stops reading. */
function tcpOf(socket: TestSocket | BridgeClient['socket']): { pause(): void; resume(): void } {
  const transport = socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } };
  return transport.ws._socket;
}

const metric = async (url: string, name: string) => (await metricSample(url, name)) ?? 0;

describe.skipIf(!amqpUrl)('slow consumers', () => {
  let t: TestBridge;
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    t = await startTestBridge({ MAX_PENDING_BYTES_PER_SOCKET: String(CAP), HISTORY_SIZE: '50' });
  });
  afterAll(async () => {
    for (const cleanup of cleanups) cleanup();
    await t?.stop();
  });

  /** In order (one publisher channel), 100 confirms outstanding at a time. */
  const publishAll = async (tripId: string, from: number, count: number) => {
    for (let chunk = from; chunk < from + count; chunk += 100) {
      const steps = Array.from({ length: Math.min(100, from + count - chunk) }, (_, i) => chunk + i);
      await Promise.all(
        steps.map((step) => t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: { step, payload: PAYLOAD } })),
      );
    }
  };

  /** Polls the metric until it reaches `value`. */
  const cuts = async (value: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while ((await metric(t.url, 'bridge_slow_consumer_disconnects_total')) < value) {
      if (Date.now() > deadline) throw new Error(`fewer than ${value} slow-consumer disconnects`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('disconnects a socket that stops reading once its pending bytes pass the cap; the room’s readers get everything', async () => {
    const tripId = 'slow-trip';
    const token = await signToken({ sub: 'slow-user', trips: [tripId] });
    const { socket: reader } = await connectClient(t.url, token, { transports: ['websocket'] });
    const { socket: stalled } = await connectClient(t.url, token, { transports: ['websocket'], reconnection: false });
    cleanups.push(() => reader.disconnect(), () => stalled.disconnect());
    for (const s of [reader, stalled]) expect(await s.timeout(5000).emitWithAck('trip:join', { tripId })).toMatchObject({ ok: true });
    const steps: number[] = [];
    reader.on('trip:updated', (e) => steps.push(stepOf(e)));
    let disconnected = '';
    stalled.on('disconnect', (reason) => (disconnected = reason));

    let readerGone = '';
    reader.on('disconnect', (reason) => (readerGone = reason));

    const tcp = tcpOf(stalled);
    tcp.pause();
    // Published at the reader's pace (at most 20 events, 320 KB, ahead of it), so that only the stalled
    // socket falls behind, however slowly this busy process reads.
    for (let from = 0; from < EVENTS; from += 20) {
      await until(() => steps.length >= from - 20 || readerGone !== '', 30_000, 'the reader to keep up');
      await publishAll(tripId, from, 20);
    }
    await until(() => steps.length === EVENTS || readerGone !== '', 30_000, 'the reader to get every event');
    expect(readerGone).toBe('');
    expect(steps).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    expect(await metric(t.url, 'bridge_slow_consumer_disconnects_total')).toBe(1);

    // The server dropped the connection (and what waited in it): reading again, the client finds it closed.
    tcp.resume();
    await until(() => disconnected !== '', 10_000, 'the stalled client to see its connection closed');
    expect(disconnected).toMatch(/^transport (close|error)$/);
    const health = await fetch(`${t.url}/api/v1/socket/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { data: { connections: number } }).data.connections).toBe(1);
  }, 60_000);

  it('the typed client comes back by itself after a slow-consumer disconnect and resyncs to the head', async () => {
    const tripId = 'slow-typed-trip';
    const token = await signToken({ sub: 'slow-typed', trips: [tripId] });
    const client = createBridgeClient({
      url: t.url,
      token,
      socketOptions: { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 100 },
    });
    cleanups.push(() => client.close());
    await client.joinTrip(tripId);
    const resyncs: unknown[] = [];
    client.on('resync', (_trip, position) => resyncs.push(position));
    let last = -1;
    client.on('trip:updated', (e) => (last = stepOf(e)));
    await until(() => client.socket.connected, 5000, 'connected');
    const tcp = tcpOf(client.socket);
    tcp.pause();
    await publishAll(tripId, 0, EVENTS);
    await cuts(2, 30_000);
    tcp.resume();
    // History keeps 50 of the 1,200: the client resyncs and then goes on live from the head.
    await until(() => resyncs.length > 0, 15_000, 'a resync');
    await publishAll(tripId, EVENTS, 1);
    await until(() => last === EVENTS, 15_000, 'the next event after the resync');
  }, 90_000);
});
