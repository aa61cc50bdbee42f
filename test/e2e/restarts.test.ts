import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { collect, connectClient, request, until, waitFor } from '../helpers/client.js';
import { runService, type ServiceProcess } from '../helpers/process.js';
import { publishTripStream, type PublishedEvent } from '../helpers/stream.js';
import { signToken, TEST_SECRET } from '../helpers/tokens.js';

describe.skipIf(!amqpUrl)('restarts under load', () => {
  const amqp = amqpUrl ? new TestAmqp(amqpUrl) : undefined;
  const running: ServiceProcess[] = [];
  const declared: string[] = [];
  afterEach(() => {
    for (const service of running.splice(0)) service.child.kill('SIGKILL');
  });
  afterAll(async () => {
    for (const name of declared) await amqp?.cleanup([name, `${name}.dead-letter`], [`${name}.events`]);
    await amqp?.close();
  });

  /** A service process on its own queue, with a client joined to trip `restart-trip`. */
  async function startWithClient(name: string) {
    const service = runService({
      NODE_ENV: 'test',
      PORT: '0',
      JWT_SECRET: TEST_SECRET,
      AMQP_URL: amqpUrl!,
      AMQP_QUEUE: name,
      AMQP_EXCHANGE: `${name}.events`,
      LOG_LEVEL: 'info',
    });
    running.push(service);
    const started = await service.waitForLog((l) => l.event === 'bridge.started');
    const url = `http://127.0.0.1:${started.port as number}`;
    const { socket } = await connectClient(url, await signToken({ sub: 'watcher', trips: ['restart-trip'] }));
    await request(socket, 'trip:join', { tripId: 'restart-trip' });
    return { service, url, socket, received: collect(socket, 'trip:updated') };
  }

  /** Publishes 300 events in the background, 3 ms apart. */
  function stream(name: string) {
    const publishing = publishTripStream(amqp!, `${name}.events`, { trips: ['restart-trip'], count: 300, pauseMs: 3 });
    publishing.catch(() => undefined);
    return publishing;
  }

  function ids(events: Array<{ eventId: string }> | PublishedEvent[]) {
    return new Set(events.map((e) => ('eventId' in e ? e.eventId : e.id)));
  }

  it('loses nothing acknowledged on SIGKILL: what clients did not get is redelivered from the queue', async () => {
    const name = uniqueName('sigkill');
    declared.push(name);
    const first = await startWithClient(name);
    const publishing = stream(name);
    await until(() => first.received.length >= 100, 15_000, '100 events before the kill');
    first.service.child.kill('SIGKILL');
    await first.service.exited();
    const published = await publishing;

    // The broker returned every unacknowledged message; nothing consumes the queue now.
    const queued = ids((await amqp!.peek(name)).map((body) => ({ eventId: (body as { id: string }).id })));
    const received = ids(first.received);
    const lost = [...ids(published)].filter((id) => !received.has(id) && !queued.has(id));
    expect(lost).toEqual([]);
    // Handed to Socket.IO but not acknowledged when the process died: at most the one in hand.
    expect([...received].filter((id) => queued.has(id)).length).toBeLessThanOrEqual(1);

    // The restarted service takes over the queue and drains it.
    const second = await startWithClient(name);
    const admin = await signToken({ sub: 'ops', role: 'admin' });
    let consumed = 0;
    for (let i = 0; i < 100 && consumed < queued.size; i++) {
      const res = await fetch(`${second.url}/api/v1/socket/stats`, { headers: { Authorization: `Bearer ${admin}` } });
      consumed = ((await res.json()) as { data: { broker: { consumed: number } } }).data.broker.consumed;
      if (consumed < queued.size) await new Promise((r) => setTimeout(r, 100));
    }
    expect(consumed).toBe(queued.size);
    expect(await amqp!.messageCount(name)).toBe(0);
    second.socket.disconnect();
    first.socket.disconnect();
  }, 60_000);

  it('on SIGTERM under load: tells sockets, finishes what is in flight, leaves the rest queued, exits 0', async () => {
    const name = uniqueName('sigterm');
    declared.push(name);
    const { service, socket, received } = await startWithClient(name);
    const shutdown = waitFor(socket, 'server:shutdown', 15_000);
    const publishing = stream(name);
    await until(() => received.length >= 100, 15_000, '100 events before the signal');
    service.child.kill('SIGTERM');
    expect(await shutdown).toMatchObject({ message: expect.any(String), serverTime: expect.any(String) });
    expect(await service.exited(15_000)).toBe(0);
    const published = await publishing;

    const queued = ids((await amqp!.peek(name)).map((body) => ({ eventId: (body as { id: string }).id })));
    const got = ids(received);
    expect([...ids(published)].filter((id) => !got.has(id) && !queued.has(id))).toEqual([]);
    // A graceful stop acknowledges everything it handed to Socket.IO: nothing comes twice.
    expect([...got].filter((id) => queued.has(id))).toEqual([]);
    socket.disconnect();
  }, 60_000);
});
