import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPresenceStore } from '../../src/state/redis-presence.js';
import { amqpUrl, redisUrl } from '../helpers/bridge.js';
import { connectClient, request, waitFor, type TestSocket } from '../helpers/client.js';
import { TestCluster, type Deployment, type Instance } from '../helpers/cluster.js';
import { signToken } from '../helpers/tokens.js';

type Presence = Array<{ userId: string; name?: string }>;
const users = (presence: Presence) => presence.map((p) => p.userId).sort();

describe.skipIf(!amqpUrl || !redisUrl)('presence across instances, from shared state', () => {
  const cluster = new TestCluster();
  let d: Deployment;
  let i1: Instance;
  let i2: Instance;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    d = cluster.deployment();
    [i1, i2] = await Promise.all([cluster.start(d), cluster.start(d)]);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await cluster.close();
  });

  async function client(instance: Instance, token: string, options: Parameters<typeof connectClient>[2] = {}) {
    const { socket } = await connectClient(instance.url, token, options);
    sockets.push(socket);
    return socket;
  }

  it('sends no token, header or cookie across Redis while users join, list, leave and disconnect', async () => {
    const seen: Buffer[] = [];
    const spy = createClient({ url: redisUrl! }) as RedisClientType;
    await spy.connect();
    // Every channel of the deployment: the adapter's broadcasts, requests and answers, and the entries.
    await spy.pSubscribe(`${d.name}*`, (message) => void seen.push(message), true);
    try {
      const tripId = 'presence-secrets';
      const tokens = {
        ana: await signToken({ sub: 'ana', name: 'Ana', trips: [tripId] }),
        ben: await signToken({ sub: 'ben', name: 'Ben', trips: [tripId] }),
        admin: await signToken({ sub: 'root', role: 'admin' }),
      };
      const ana = await client(i1, tokens.ana);
      // Ben's token travels in an Authorization header and a cookie as well as in auth.
      const ben = await client(i2, tokens.ben, {
        extraHeaders: { authorization: `Bearer ${tokens.ben}`, cookie: `access_token=${tokens.ben}; theme=dark` },
      });
      const anaJoin = await request(ana, 'trip:join', { tripId });
      expect(users((anaJoin as { presence: Presence }).presence)).toEqual(['ana']);
      const joined = waitFor(ana, 'user:joined');
      const benJoin = await request(ben, 'trip:join', { tripId });
      expect((benJoin as { presence: Presence }).presence).toEqual(expect.arrayContaining([{ userId: 'ana', name: 'Ana' }, { userId: 'ben', name: 'Ben' }]));
      expect(await joined).toEqual({ tripId, userId: 'ben', name: 'Ben' });

      // Ben's sockets are on i2; asked on i1, every instance answers with ids only.
      const mine = await fetch(`${i1.url}/api/v1/socket/my-connections`, { headers: { authorization: `Bearer ${tokens.ben}` } });
      const connections = ((await mine.json()) as { data: Array<{ socketId: string; rooms: string[] }> }).data;
      expect(connections).toEqual([expect.objectContaining({ socketId: ben.id, rooms: expect.arrayContaining([`trip:${tripId}`]) })]);
      for (const route of ['rooms', 'stats']) {
        expect((await fetch(`${i1.url}/api/v1/socket/${route}`, { headers: { authorization: `Bearer ${tokens.admin}` } })).status).toBe(200);
      }

      const left = waitFor(ana, 'user:left');
      expect(await request(ben, 'trip:leave', { tripId })).toMatchObject({ ok: true });
      expect(await left).toEqual({ tripId, userId: 'ben' });
      expect(await request(ben, 'trip:join', { tripId })).toMatchObject({ ok: true });
      const gone = waitFor(ana, 'user:left');
      ben.disconnect();
      expect(await gone).toEqual({ tripId, userId: 'ben' });
      await new Promise((r) => setTimeout(r, 200));

      expect(seen.length).toBeGreaterThan(0);
      const secrets = [...Object.values(tokens), 'Bearer', 'theme=dark'];
      const leaks = seen.filter((m) => secrets.some((s) => m.includes(s)));
      expect(leaks.map((m) => m.toString('latin1').slice(0, 200))).toEqual([]);
    } finally {
      await spy.quit();
    }
  });

  it('answers joins and leaves at once while another instance is stalled', async () => {
    const tripId = 'presence-stall';
    const token = await signToken({ sub: 'cleo', trips: [tripId] });
    const other = await client(i2, await signToken({ sub: 'dan', trips: [tripId] }));
    expect(await request(other, 'trip:join', { tripId })).toMatchObject({ ok: true });
    const cleo = await client(i1, token);
    i2.service.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      const join = await request(cleo, 'trip:join', { tripId });
      expect(join).toMatchObject({ ok: true });
      // The stalled instance's user is still present: its entries live until they expire.
      expect(users((join as { presence: Presence }).presence)).toEqual(['cleo', 'dan']);
      expect(await request(cleo, 'trip:leave', { tripId })).toMatchObject({ ok: true });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      i2.service.child.kill('SIGCONT');
    }
  });

  it('takes the users of an instance that is gone out of presence once their entries expire, and tells the room', async () => {
    const tripId = 'presence-ghost';
    const room = `trip:${tripId}`;
    // The entries a vanished instance left behind: nobody confirms them any more.
    const redis = createClient({ url: redisUrl! }) as RedisClientType;
    await redis.connect();
    try {
      const ghosts = new RedisPresenceStore(redis, { prefix: `${d.name}:`, ttlMs: 300 });
      await ghosts.enter(room, 'ghost-socket', { userId: 'ghost' });
      const eve = await client(i1, await signToken({ sub: 'eve', trips: [tripId] }));
      const first = await request(eve, 'trip:join', { tripId });
      expect(users((first as { presence: Presence }).presence)).toEqual(['eve', 'ghost']);
      const departed = waitFor(eve, 'user:left', 10_000);
      await new Promise((r) => setTimeout(r, 400));
      const fay = await client(i2, await signToken({ sub: 'fay', trips: [tripId] }));
      const second = await request(fay, 'trip:join', { tripId });
      expect(users((second as { presence: Presence }).presence)).toEqual(['eve', 'fay']);
      expect(await departed).toEqual({ tripId, userId: 'ghost' });
    } finally {
      await redis.quit();
    }
  });
});
