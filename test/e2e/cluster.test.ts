import { afterEach, describe, expect, it } from 'vitest';
import type { TripUpdatedMessage } from '../../contracts/index.js';
import { redisUrl, amqpUrl } from '../helpers/bridge.js';
import { collect, connectClient, request, until, type TestSocket } from '../helpers/client.js';
import { hasRedisServer, PrivateRedis, TestCluster, type Deployment, type Instance } from '../helpers/cluster.js';
import { publishTripStream, stepOf } from '../helpers/stream.js';
import { signToken } from '../helpers/tokens.js';

const API = '/api/v1/socket';

describe.skipIf(!amqpUrl || !redisUrl)('several instances over RabbitMQ and Redis', () => {
  let cluster: TestCluster;
  let amqp: TestCluster['amqp'];
  const sockets: TestSocket[] = [];
  const privateRedis: PrivateRedis[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await cluster?.close();
    for (const redis of privateRedis.splice(0)) await redis.stop();
  });

  /** A new deployment in a new cluster of test processes. */
  function deployment(url?: string): Deployment {
    cluster = new TestCluster();
    amqp = cluster.amqp;
    return cluster.deployment(url);
  }

  const startInstance = (d: Deployment): Promise<Instance> => cluster.start(d);

  /**
   * A client on `instance` joined to `tripId`. The join may wait up to the lock's ttl (5 s) when an
   * instance died holding the trip's lock, hence the longer timeout.
   */
  const joined = (instance: Instance, userId: string, tripId: string, since?: { seq: number; epoch: string }) =>
    cluster.joined(instance, userId, tripId, since ? { since } : {});

  async function get(instance: Instance, path: string, token: string) {
    const res = await fetch(`${instance.url}${API}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as { success: boolean; data: never } };
  }

  const consumedBy = (instance: Instance) => cluster.consumedBy(instance);

  const seqs = (events: TripUpdatedMessage[]) => events.map((e) => e.seq);
  /**
   * The events once each by seq, checking that a repeat is the very message given before: across a
   * crash or a join on another instance a socket may get one message twice, with the same seq (the
   * typed client drops it); never two messages with one seq.
   */
  const oncePerSeq = (events: TripUpdatedMessage[]) => {
    const bySeq = new Map<string, TripUpdatedMessage>();
    for (const event of events) {
      const key = `${event.epoch}/${event.seq}`;
      const earlier = bySeq.get(key);
      if (earlier) expect(event).toEqual(earlier);
      else bySeq.set(key, event);
    }
    return [...bySeq.values()];
  };
  const consecutive = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

  it('delivers every event to clients on every instance, once, in publish order, with the same seq', async () => {
    const d = deployment();
    const instances = [await startInstance(d), await startInstance(d), await startInstance(d)];
    const clients = await Promise.all(instances.map((instance, i) => joined(instance, `user-${i}`, 'shared-trip')));
    const published = await publishTripStream(amqp, d.exchange, { trips: ['shared-trip', 'other-trip'], count: 300, pauseMs: 1 });
    const expected = published.filter((e) => e.tripId === 'shared-trip').map((e) => e.step);
    await until(() => clients.every((c) => c.received.length >= expected.length), 20_000, 'every event on every instance');
    await new Promise((r) => setTimeout(r, 200)); // time for a duplicate to show up
    for (const client of clients) {
      expect(client.received.map(stepOf)).toEqual(expected);
      expect(seqs(client.received)).toEqual(consecutive(1, expected.length));
      expect(client.received.map((e) => e.epoch)).toEqual(clients[0]!.received.map((e) => e.epoch));
    }
    // One instance at a time consumes the queue (a single active consumer); the others stand by.
    const consumed = await Promise.all(instances.map(consumedBy));
    expect(consumed.filter((n) => n > 0)).toEqual([published.length]);
  }, 60_000);

  it('answers presence, /stats, /rooms and /my-connections for the whole cluster', async () => {
    const d = deployment();
    const [a, b] = [await startInstance(d), await startInstance(d)];
    const first = await joined(a, 'alice', 'trip-p');
    const userJoined = new Promise((resolve) => first.socket.once('user:joined', resolve));
    const second = await joined(b, 'bob', 'trip-p');
    expect(second.ack.presence.map((p) => p.userId).sort()).toEqual(['alice', 'bob']);
    expect(await userJoined).toMatchObject({ tripId: 'trip-p', userId: 'bob' });
    // Alice on the other instance too: two sockets of hers, one per instance.
    await joined(b, 'alice', 'trip-p');

    const admin = await signToken({ sub: 'ops', role: 'admin' });
    for (const instance of [a, b]) {
      const rooms = await get(instance, '/rooms', admin);
      expect(rooms.body.data).toEqual(
        expect.arrayContaining([
          { name: 'trip:trip-p', members: 3 },
          { name: 'user:alice', members: 2 },
          { name: 'user:bob', members: 1 },
        ]),
      );
      const stats = await get(instance, '/stats', admin);
      expect(stats.body.data).toMatchObject({ connections: 3, users: 2, rooms: 3 });
      const mine = await get(instance, '/my-connections', await signToken({ sub: 'alice' }));
      expect((mine.body.data as Array<{ rooms: string[] }>).map((c) => c.rooms.sort())).toEqual([
        ['trip:trip-p', 'user:alice'],
        ['trip:trip-p', 'user:alice'],
      ]);
    }
  }, 60_000);

  it('numbers a notification for 1,000 users in each user\'s stream, for users on any instance', async () => {
    const d = deployment();
    const [a, b] = [await startInstance(d), await startInstance(d)];
    const users = Array.from({ length: 1000 }, (_, i) => `fan-${i}`);
    const clients = await Promise.all(
      [a, b].map(async (instance, i) => {
        const { socket } = await connectClient(instance.url, await signToken({ sub: users[i * 500]! }));
        sockets.push(socket);
        return collect(socket, 'notification');
      }),
    );
    const notification = { type: 'info', title: 'Trip booked', message: 'Lisbon, 12–19 May' };
    for (const title of ['first', 'second']) {
      await amqp.publishEvent(d.exchange, 'notification.created', { userIds: users, notification: { ...notification, title } });
    }
    await until(() => clients.every((got) => got.length >= 2), 15_000, 'both notifications on both instances');
    for (const got of clients) {
      expect(got.map((n) => [n.title, n.seq])).toEqual([
        ['first', 1],
        ['second', 2],
      ]);
    }
  }, 60_000);

  it('loses nothing when the consuming instance is killed mid-stream: clients move and recover the whole sequence', async () => {
    const d = deployment();
    const [a, b] = [await startInstance(d), await startInstance(d)];
    const onA = await joined(a, 'on-a', 'kill-trip');
    const onB = await joined(b, 'on-b', 'kill-trip');
    const publishing = publishTripStream(amqp, d.exchange, { trips: ['kill-trip'], count: 300, pauseMs: 3 });
    publishing.catch(() => undefined);
    await until(() => onA.received.length >= 80, 15_000, '80 events before the kill');
    // Kill whichever instance is consuming (the first to subscribe, normally a).
    const [consumer, survivor, moved, stayed] = (await consumedBy(a)) > 0 ? [a, b, onA, onB] : [b, a, onB, onA];
    consumer.service.child.kill('SIGKILL');
    await consumer.service.exited();

    // The client of the dead instance reconnects to the survivor and recovers from the shared history.
    const last = moved.received.at(-1)!;
    const back = await joined(survivor, 'moved', 'kill-trip', { seq: last.seq, epoch: last.epoch });
    expect(back.ack.recovered).toBe(true);
    const published = await publishing;
    await until(() => oncePerSeq(stayed.received).length >= published.length, 30_000, 'the survivor\'s client to get everything');
    await until(() => oncePerSeq([...moved.received, ...back.received]).length >= published.length, 30_000, 'the moved client');
    await new Promise((r) => setTimeout(r, 200));

    const everything = consecutive(1, published.length);
    const stayedOnce = oncePerSeq(stayed.received);
    expect(stayedOnce.map(stepOf)).toEqual(everything);
    expect(seqs(stayedOnce)).toEqual(everything);
    // Not even the event in hand at the kill comes twice: it was numbered once, and each room feed hands it out once.
    expect(stayed.received).toHaveLength(stayedOnce.length);
    const movedOnce = oncePerSeq([...moved.received, ...back.received]);
    expect(movedOnce.map(stepOf)).toEqual(everything);
    expect(seqs(movedOnce)).toEqual(everything);
  }, 90_000);

  it('gives a client that rejoins on another instance while events flow every event: the missed ones, then the live ones', async () => {
    const d = deployment();
    const [a, b] = [await startInstance(d), await startInstance(d)];
    const watcher = await joined(a, 'watcher', 'busy-trip');
    const publishing = publishTripStream(amqp, d.exchange, { trips: ['busy-trip'], count: 400, pauseMs: 2 });
    publishing.catch(() => undefined);
    // Five clients drop and rejoin, each on the instance it was not on, at different points of the stream.
    const rounds = await Promise.all(
      [40, 90, 140, 190, 240].map(async (at, i) => {
        const [first, second] = i % 2 ? [a, b] : [b, a];
        const before = await joined(first, `roamer-${i}`, 'busy-trip');
        await until(() => watcher.received.length >= at, 20_000, `event ${at}`);
        before.socket.disconnect();
        const last = before.received.at(-1);
        const after = await joined(second, `roamer-${i}`, 'busy-trip', last && { seq: last.seq, epoch: last.epoch });
        return { before, after, last };
      }),
    );
    const published = await publishing;
    await until(() => oncePerSeq(watcher.received).length >= published.length, 30_000, 'the watcher');
    for (const { before, after, last } of rounds) {
      await until(() => (after.received.at(-1)?.seq ?? 0) >= published.length, 30_000, 'a roamer');
      if (last) expect(after.ack.recovered).toBe(true);
      // From the join on: every event once, in order, each repeat being the very message given before.
      const from = last ? last.seq + 1 : after.ack.seq + 1;
      const once = oncePerSeq(after.received);
      expect(seqs(once)).toEqual(consecutive(from, published.length - from + 1));
      expect(seqs(before.received)).toEqual(consecutive(before.received[0]?.seq ?? 1, before.received.length));
    }
  }, 90_000);

  it.skipIf(!hasRedisServer)('survives a Redis restart: health degraded, then ok, and events queued meanwhile arrive in order', async () => {
    const redis = await PrivateRedis.start();
    privateRedis.push(redis);
    const d = deployment(redis.url);
    const [a, b] = [await startInstance(d), await startInstance(d)];
    const health = async (instance: Instance) => (await fetch(`${instance.url}${API}/health`)).status;
    expect(await health(a)).toBe(200);
    const { socket: early } = await connectClient(a.url, await signToken({ sub: 'early', trips: ['redis-trip'] }));
    sockets.push(early);

    await redis.kill();
    for (const instance of [a, b]) {
      const deadline = Date.now() + 10_000;
      while ((await health(instance)) !== 503 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await health(instance)).toBe(503);
    }
    const down = await fetch(`${a.url}${API}/health`);
    expect(await down.json()).toMatchObject({ data: { status: 'degraded', redis: 'disconnected' }, error: { code: 'unavailable' } });
    // What needs the shared state answers `unavailable` meanwhile, and the process stays up.
    expect(await request(early, 'trip:join', { tripId: 'redis-trip' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const duringOutage = await publishTripStream(amqp, d.exchange, { trips: ['redis-trip'], count: 20, idPrefix: 'outage' });

    await redis.restart();
    for (const instance of [a, b]) {
      const deadline = Date.now() + 15_000;
      while ((await health(instance)) !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await health(instance)).toBe(200);
    }
    // The events published during the outage waited in the queue, then were handled in order, none dead-lettered.
    const admin = await signToken({ sub: 'ops', role: 'admin' });
    const delivered = async () => ((await get(a, '/stats', admin)).body.data as { broker: { delivered: number } }).broker.delivered;
    const deadline = Date.now() + 15_000;
    while ((await delivered()) < duringOutage.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const watcher = await joined(a, 'ra', 'redis-trip');
    // Redis lost every stream when it restarted: the outage's 20 events opened a new epoch at 1.
    expect(watcher.ack.seq).toBe(duringOutage.length);
    expect(await amqp.messageCount(`${d.name}.dead-letter`)).toBe(0);

    // The adapter subscribed again: clients on both instances get what follows.
    const clients = [watcher, await joined(b, 'rb', 'redis-trip')];
    const afterwards = await publishTripStream(amqp, d.exchange, { trips: ['redis-trip'], count: 20, idPrefix: 'after' });
    await until(() => clients.every((c) => c.received.length >= afterwards.length), 15_000, 'events after the restart');
    for (const client of clients) {
      expect(client.received.map((e) => e.eventId)).toEqual(afterwards.map((e) => e.id));
      expect(seqs(client.received)).toEqual(consecutive(duringOutage.length + 1, afterwards.length));
    }
  }, 90_000);
});
