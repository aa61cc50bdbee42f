import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until } from '../helpers/client.js';
import { stepOf } from '../helpers/stream.js';
import { signToken } from '../helpers/tokens.js';

/** The server side's TCP socket of a client's connection, with its writes counted. */
function countWrites(t: TestBridge, socketId: string): { writes: number } {
  const conn = t.bridge.io.of('/').sockets.get(socketId)!.conn as unknown as {
    transport: { socket: { _socket: { _writev: (...a: unknown[]) => void; _write: (...a: unknown[]) => void } } };
  };
  const tcp = conn.transport.socket._socket;
  const counter = { writes: 0 };
  for (const method of ['_writev', '_write'] as const) {
    const original = tcp[method].bind(tcp);
    tcp[method] = (...args: unknown[]) => {
      counter.writes += 1;
      original(...args);
    };
  }
  return counter;
}

describe.skipIf(!amqpUrl)('writes to a socket, coalesced per turn of the event loop', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startTestBridge();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('hands a burst of 500 events to one socket in far fewer writes than events, in order', async () => {
    const tripId = 'coalesced';
    const { socket } = await connectClient(t.url, await signToken({ sub: 'burst-reader', trips: [tripId] }), { transports: ['websocket'] });
    await request(socket, 'trip:join', { tripId });
    const received = collect(socket, 'trip:updated');
    const counter = countWrites(t, socket.id!);
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: { step: i + 1 } })),
    );
    await until(() => received.length === 500, 10_000, 'the burst');
    expect(received.map(stepOf)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    // One write per packet before; now one per turn that had something for the socket.
    expect(counter.writes).toBeLessThan(100);
    socket.disconnect();
  });
});
