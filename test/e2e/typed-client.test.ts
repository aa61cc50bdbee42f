import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { createBridgeClient, type BridgeClient, type BridgeClientEvents, type TokenSource } from '../../src/client/index.js';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { until } from '../helpers/client.js';
import { stepOf } from '../helpers/stream.js';
import { signToken } from '../helpers/tokens.js';

type Events = BridgeClientEvents;
type Args<K extends keyof Events> = Parameters<Events[K]>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Reconnects after exactly `ms` (no jitter), so a test knows how long the client stays away. */
const reconnectAfter = (ms: number): Partial<ManagerOptions & SocketOptions> => ({
  reconnectionDelay: ms,
  reconnectionDelayMax: ms,
  randomizationFactor: 0,
});

/** Every call of a client event, in order. */
function record<K extends keyof Events>(client: BridgeClient, event: K): Args<K>[] {
  const calls: Args<K>[] = [];
  client.on(event, ((...args: Args<K>) => void calls.push(args)) as Events[K]);
  return calls;
}

/** The next call of a client event, or a rejection after `timeoutMs`. */
function next<K extends keyof Events>(client: BridgeClient, event: K, timeoutMs = 5000): Promise<Args<K>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${String(event)}`));
    }, timeoutMs);
    const off = client.on(event, ((...args: Args<K>) => {
      clearTimeout(timer);
      off();
      resolve(args);
    }) as Events[K]);
  });
}

/** The `changes.step` of every trip event of `tripId` the application is handed. */
function stepsSeen(client: BridgeClient, tripId: string): number[] {
  const steps: number[] = [];
  client.on('trip:updated', (event) => {
    if (event.tripId === tripId) steps.push(stepOf(event));
  });
  return steps;
}

/** The client events the socket sends, e.g. to see which trips it rejoins. */
function outgoing(client: BridgeClient): [string, unknown][] {
  const sent: [string, unknown][] = [];
  client.socket.onAnyOutgoing((event: string, payload: unknown) => sent.push([event, payload]));
  return sent;
}

/** Cuts the connection as a network failure would: socket.io-client reconnects by itself. */
function dropConnection(client: BridgeClient): void {
  client.socket.io.engine.close();
}

/** What a test needs against one bridge: clients it closes afterwards, and trip events to publish. */
function onBridge(bridge: () => TestBridge) {
  let clients: BridgeClient[] = [];
  afterEach(() => {
    for (const client of clients) client.close();
    clients = [];
  });
  return {
    client(token: TokenSource, socketOptions: Partial<ManagerOptions & SocketOptions> = {}): BridgeClient {
      const client = createBridgeClient({
        url: bridge().url,
        token,
        socketOptions: { transports: ['websocket'], ...reconnectAfter(200), ...socketOptions },
      });
      clients.push(client);
      return client;
    },
    /** Publishes trip.updated events with `changes.step` = from..to. */
    async publishSteps(tripId: string, from: number, to: number): Promise<void> {
      const { amqp, config } = bridge();
      for (let step = from; step <= to; step++) {
        await amqp.publishEvent(config.AMQP_EXCHANGE, 'trip.updated', { tripId, changes: { step } }, { id: `${tripId}-${step}` });
      }
    },
    async publish(type: string, data: unknown): Promise<void> {
      await bridge().amqp.publishEvent(bridge().config.AMQP_EXCHANGE, type, data);
    },
  };
}

describe.skipIf(!amqpUrl)('typed client', () => {
  let t: TestBridge;
  beforeAll(async () => {
    // The default history, spelled out: the reconnect tests rely on it reaching back ~100 events.
    t = await startTestBridge({ HISTORY_SIZE: '100' });
  });
  afterAll(async () => {
    await t?.stop();
  });
  const { client, publishSteps, publish } = onBridge(() => t);

  it('a client that drops its connection while 30 events pass sees every event once, in order, after reconnecting', async () => {
    const tripId = 'tc-drop';
    const ana = client(await signToken({ sub: 'ana', trips: [tripId] }), reconnectAfter(1000));
    const seen = stepsSeen(ana, tripId);
    const resyncs = record(ana, 'resync');
    await ana.joinTrip(tripId);
    const watcher = client(await signToken({ sub: 'wes', trips: [tripId] }));
    const watched = stepsSeen(watcher, tripId);
    await watcher.joinTrip(tripId);

    let step = 0;
    const publishNext = async () => publishSteps(tripId, ++step, step);
    for (let i = 0; i < 5; i++) await publishNext();
    await until(() => seen.length === 5, 5000, 'the first 5 events');

    dropConnection(ana);
    for (let i = 0; i < 30; i++) await publishNext();
    await until(() => watched.length === 35, 5000, 'the watcher to see the 30 events');
    expect(ana.socket.connected).toBe(false);
    // Events keep arriving while the client reconnects and rejoins, and for a while after; paced so
    // that what it misses (about 30 + 25) stays within the default history of 100.
    let afterConnect = 0;
    while (afterConnect < 10 && step < 150) {
      await publishNext();
      if (ana.socket.connected) afterConnect += 1;
      await sleep(40);
    }
    await until(() => watched.length === step, 5000, 'the watcher to see every event');
    await until(() => seen.length >= step, 5000, 'the client to catch up').catch(() => undefined);

    // As one line, so that a failure shows where the sequence breaks rather than a hundred-line diff.
    expect(seen.join(',')).toBe(range(1, step).join(','));
    expect(resyncs).toEqual([]);
  });

  it('rejoins its trips after a reconnect, from the last event seen, without the application joining again', async () => {
    const [tripA, tripB] = ['tc-rejoin-a', 'tc-rejoin-b'];
    const bo = client(await signToken({ sub: 'bo', trips: [tripA, tripB] }));
    const seenA = stepsSeen(bo, tripA);
    const seenB = stepsSeen(bo, tripB);
    const resyncs = record(bo, 'resync');
    const { epoch } = await bo.joinTrip(tripA);
    await bo.joinTrip(tripB);
    await publishSteps(tripA, 1, 2);
    await until(() => seenA.length === 2, 5000, 'two events');

    const sent = outgoing(bo);
    const rejoined = record(bo, 'trip:joined');
    dropConnection(bo);
    await until(() => rejoined.length === 2, 5000, 'both trips rejoined');

    const joins = sent.filter(([event]) => event === 'trip:join').map(([, payload]) => payload);
    expect(joins).toEqual([
      { tripId: tripA, since: { seq: 2, epoch } },
      { tripId: tripB, since: { seq: 0, epoch: expect.any(String) } },
    ]);
    await publishSteps(tripA, 3, 3);
    await publishSteps(tripB, 1, 1);
    await until(() => seenA.length === 3 && seenB.length === 1, 5000, 'events after the rejoin');
    expect(seenA).toEqual([1, 2, 3]);
    // Nothing was missed, so nothing is to be reloaded.
    expect(resyncs).toEqual([]);
  });

  it('calls the token function again on reconnect, and the server sees the refreshed token', async () => {
    const tripId = 'tc-token';
    let calls = 0;
    const cy = client(async () => signToken({ sub: 'cy', trips: [tripId], name: `Cy v${++calls}` }));
    const watcher = client(await signToken({ sub: 'wen', trips: [tripId] }));
    await watcher.joinTrip(tripId);
    const arrivals = record(watcher, 'user:joined');
    await cy.joinTrip(tripId);
    await until(() => arrivals.length === 1, 5000, 'user:joined');

    dropConnection(cy);
    await until(() => arrivals.length === 2, 5000, 'user:joined after the reconnect');
    expect(calls).toBe(2);
    expect(arrivals.map(([payload]) => payload.name)).toEqual(['Cy v1', 'Cy v2']);
  });

  it('refreshes its token and reconnects by itself when the server says auth:expired', async () => {
    const tripId = 'tc-expiry';
    let calls = 0;
    const dee = client(() => signToken({ sub: 'dee', trips: [tripId] }, { expiresIn: ++calls === 1 ? 2 : 3600 }));
    const seen = stepsSeen(dee, tripId);
    const expired = next(dee, 'auth:expired', 6000);
    await dee.joinTrip(tripId);
    const rejoined = record(dee, 'trip:joined');

    await expired;
    await until(() => rejoined.length === 1, 5000, 'the trip rejoined after the expiry');
    expect(calls).toBe(2);
    await publishSteps(tripId, 1, 1);
    await until(() => seen.length === 1, 5000, 'an event after the reconnect');
  });

  it('refreshToken() sends the token function’s new token and resolves with its expiry', async () => {
    let calls = 0;
    const eli = client(() => signToken({ sub: 'eli' }, { expiresIn: ++calls === 1 ? 60 : 7200 }));
    await next(eli, 'connected');
    const refreshed = await eli.refreshToken();
    expect(calls).toBe(2);
    expect(Math.abs(Date.parse(refreshed!.expiresAt) - (Date.now() + 7_200_000))).toBeLessThan(5000);
  });

  it('forgets a trip the member was removed from, or that was deleted, and does not rejoin it', async () => {
    const [kept, removed, deleted] = ['tc-kept', 'tc-removed', 'tc-deleted'];
    const fay = client(await signToken({ sub: 'fay', trips: [kept, removed, deleted] }));
    for (const tripId of [kept, removed, deleted]) await fay.joinTrip(tripId);
    const left = record(fay, 'trip:left');
    await publish('trip.member.removed', { tripId: removed, userId: 'fay' });
    await publish('trip.deleted', { tripId: deleted });
    await until(() => left.length === 2, 5000, 'trip:left twice');
    expect(left.map(([payload]) => payload.reason).sort()).toEqual(['deleted', 'removed']);
    expect(fay.joinedTrips()).toEqual([kept]);

    const sent = outgoing(fay);
    const rejoined = record(fay, 'trip:joined');
    dropConnection(fay);
    await until(() => rejoined.length === 1, 5000, 'the kept trip rejoined');
    await sleep(200);
    const joins = sent.filter(([event]) => event === 'trip:join').map(([, payload]) => (payload as { tripId: string }).tripId);
    expect(joins).toEqual([kept]);
  });

  it('hands out notifications missed while away once, in order, after reconnecting', async () => {
    const gil = client(await signToken({ sub: 'gil' }), reconnectAfter(1500));
    const otherTab = client(await signToken({ sub: 'gil' }));
    const seen: string[] = [];
    gil.on('notification', (n) => seen.push(n.title));
    const inOtherTab = record(otherTab, 'notification');
    const resyncs = record(gil, 'notifications:resync');
    await Promise.all([next(gil, 'connected'), next(otherTab, 'connected')]);
    const notify = (title: string) =>
      publish('notification.created', { userId: 'gil', notification: { type: 'info', title, message: '' } });

    for (const i of range(1, 3)) await notify(`n${i}`);
    await until(() => seen.length === 3, 5000, 'three notifications');
    const reconnected = next(gil, 'connected', 5000);
    dropConnection(gil);
    for (const i of range(4, 8)) await notify(`n${i}`);
    await until(() => inOtherTab.length === 8, 5000, 'the other tab to see all eight');
    expect(gil.socket.connected).toBe(false);

    const [connected] = await reconnected;
    await until(() => seen.length >= 8, 3000, 'the missed notifications').catch(() => undefined);
    expect(seen).toEqual(range(1, 8).map((i) => `n${i}`));
    expect(connected.notificationsRecovered).toBe(true);
    expect(resyncs).toEqual([]);
  });

  it('joinTrip rejects with the contract code, and sendUpdate, setTyping and leaveTrip do what the contract says', async () => {
    const tripId = 'tc-requests';
    const hal = client(await signToken({ sub: 'hal', trips: [tripId] }));
    const ivy = client(await signToken({ sub: 'ivy', trips: [tripId] }));
    await expect(hal.joinTrip('tc-not-hers')).rejects.toMatchObject({ name: 'BridgeClientError', code: 'forbidden' });
    expect(hal.joinedTrips()).toEqual([]);
    await expect(hal.sendUpdate(tripId, { budget: 1 })).rejects.toMatchObject({ code: 'not_joined' });

    const joined = await hal.joinTrip(tripId);
    expect(joined).toEqual({ tripId, seq: 0, epoch: expect.any(String), recovered: false, presence: [{ userId: 'hal' }] });
    await ivy.joinTrip(tripId);
    expect(await hal.sendUpdate(tripId, { budget: 1200 })).toEqual({ eventId: expect.any(String) });

    const typing = next(ivy, 'trip:typing');
    hal.setTyping(tripId, true);
    expect((await typing)[0]).toEqual({ tripId, userId: 'hal', typing: true });

    const seen = stepsSeen(hal, tripId);
    const ivySeen = stepsSeen(ivy, tripId);
    await hal.leaveTrip(tripId);
    expect(hal.joinedTrips()).toEqual([]);
    await publishSteps(tripId, 1, 1);
    await until(() => ivySeen.length === 1, 5000, 'the event in the other client');
    expect(seen).toEqual([]);
  });
});

describe.skipIf(!amqpUrl)('typed client, with a history of 10 events', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startTestBridge({ HISTORY_SIZE: '10' });
  });
  afterAll(async () => {
    await t?.stop();
  });
  const { client, publishSteps } = onBridge(() => t);

  it('fires resync when the history no longer reaches back, then continues with the new numbering', async () => {
    const tripId = 'tc-overflow';
    const jo = client(await signToken({ sub: 'jo', trips: [tripId] }), reconnectAfter(1500));
    const watcher = client(await signToken({ sub: 'kai', trips: [tripId] }));
    const log: (number | string)[] = [];
    jo.on('trip:updated', (event) => log.push(stepOf(event)));
    jo.on('resync', (id, position) => log.push(`resync ${id} @${position.seq}`));
    const watched = stepsSeen(watcher, tripId);
    const { epoch } = await jo.joinTrip(tripId);
    await watcher.joinTrip(tripId);
    await publishSteps(tripId, 1, 3);
    await until(() => log.length === 3, 5000, 'three events');

    const resynced = next(jo, 'resync', 5000);
    dropConnection(jo);
    await publishSteps(tripId, 4, 28);
    await until(() => watched.length === 28, 5000, 'the watcher to see 25 more');
    expect(jo.socket.connected).toBe(false);

    expect(await resynced).toEqual([tripId, { seq: 28, epoch }]);
    await publishSteps(tripId, 29, 31);
    await until(() => log.length === 7, 5000, 'events after the resync');
    expect(log).toEqual([1, 2, 3, `resync ${tripId} @28`, 29, 30, 31]);
    expect(jo.tripPosition(tripId)).toEqual({ seq: 31, epoch });
  });
});
