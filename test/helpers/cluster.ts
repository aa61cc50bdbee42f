import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient as createRedisClient, type RedisClientType } from 'redis';
import { expect } from 'vitest';
import type { StreamPosition, TripUpdatedMessage } from '../../contracts/index.js';
import { TestAmqp, uniqueName } from './amqp.js';
import { amqpUrl, redisUrl } from './bridge.js';
import { collect, connectClient, request, type TestSocket } from './client.js';
import { runService, type ServiceProcess } from './process.js';
import { TEST_SECRET, signToken } from './tokens.js';

const run = promisify(execFile);

/** Whether this machine can start a private redis-server (the tests that restart or kill Redis need one). */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedisServer) {
  const message = 'redis-server is not on PATH: the tests that restart Redis cannot start their own.';
  if (process.env.CI) throw new Error(`${message} They cannot be skipped under CI=true.`);
  console.warn(`\n${'!'.repeat(80)}\n${message}\nTHOSE TESTS ARE SKIPPED.\n${'!'.repeat(80)}\n`);
}

export { freePort, PrivateRedis } from '../../chaos/redis-server.js';

export interface Instance {
  service: ServiceProcess;
  url: string;
  pid: number;
}

export interface Deployment {
  name: string;
  exchange: string;
  redisUrl: string;
}

/**
 * Bridge processes sharing one queue, exchange and Redis, with raw clients on them; `close()` kills
 * them all and deletes the queues, exchange and Redis keys the deployments used.
 */
export class TestCluster {
  readonly amqp = new TestAmqp(amqpUrl!);
  private readonly services: ServiceProcess[] = [];
  private readonly sockets: TestSocket[] = [];
  private readonly deployments: Deployment[] = [];

  /** A new deployment: its own queue, exchange and Redis keys. */
  deployment(url = redisUrl!): Deployment {
    const name = uniqueName('cluster');
    const d = { name, exchange: `${name}.events`, redisUrl: url };
    this.deployments.push(d);
    return d;
  }

  async start(d: Deployment, env: Record<string, string> = {}): Promise<Instance> {
    const service = runService({
      NODE_ENV: 'test',
      PORT: '0',
      JWT_SECRET: TEST_SECRET,
      AMQP_URL: amqpUrl!,
      AMQP_QUEUE: d.name,
      AMQP_EXCHANGE: d.exchange,
      REDIS_URL: d.redisUrl,
      LOG_LEVEL: 'info',
      ...env,
    });
    this.services.push(service);
    const started = await service.waitForLog((l) => l.event === 'bridge.started');
    return { service, url: `http://127.0.0.1:${started.port as number}`, pid: service.child.pid! };
  }

  /**
   * A raw client of `userId` on `instance`, joined to `tripId`, collecting what it gets; its token
   * lists `trips` (by default only `tripId`).
   */
  async joined(instance: Instance, userId: string, tripId: string, options: { since?: StreamPosition; trips?: string[] } = {}) {
    const { since, trips = [tripId] } = options;
    const { socket } = await connectClient(instance.url, await signToken({ sub: userId, trips }));
    this.sockets.push(socket);
    const received = collect(socket, 'trip:updated');
    const ack = await request(socket, 'trip:join', since ? { tripId, since } : { tripId }, 10_000);
    expect(ack).toMatchObject({ ok: true });
    return { socket, received, ack: ack as { ok: true; seq: number; epoch: string; recovered: boolean; presence: Array<{ userId: string }> } };
  }

  /** Events this instance took from the queue, from its own Prometheus counter. */
  async consumedBy(instance: Instance): Promise<number> {
    const text = await (await fetch(`${instance.url}/metrics`)).text();
    return Number(/^bridge_events_consumed_total (\d+)/m.exec(text)?.[1] ?? 0);
  }

  /** The instance consuming now (its counter moves while events flow), with the others. */
  async active(instances: Instance[]): Promise<{ active: Instance; others: Instance[] }> {
    const deadline = Date.now() + 10_000;
    let before = await Promise.all(instances.map((i) => this.consumedBy(i)));
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await Promise.all(instances.map((i) => this.consumedBy(i)));
      const index = now.findIndex((n, i) => n > before[i]!);
      if (index >= 0) return { active: instances[index]!, others: instances.filter((_, i) => i !== index) };
      if (Date.now() > deadline) throw new Error('no instance is consuming');
      before = now;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets.splice(0)) socket.disconnect();
    for (const service of this.services.splice(0)) {
      service.child.kill('SIGCONT');
      service.child.kill('SIGKILL');
    }
    for (const { name, redisUrl: url } of this.deployments.splice(0)) {
      await this.amqp.cleanup([name, `${name}.dead-letter`], [`${name}.events`]);
      await deleteKeys(url, `${name}:*`);
    }
    await this.amqp.close();
  }
}

/** Deletes the keys that match `pattern` (a deployment's own), if that Redis still answers. */
export async function deleteKeys(url: string, pattern: string): Promise<void> {
  const redis: RedisClientType = createRedisClient({ url, socket: { reconnectStrategy: false } });
  redis.on('error', () => undefined);
  await redis.connect().catch(() => undefined);
  if (!redis.isReady) return;
  for await (const key of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) await redis.del(key);
  await redis.quit();
}

/**
 * Closes, from the broker's side, the AMQP connections of one process only (found by its local TCP
 * ports), or only its consuming one: the others, and everyone else's, stay up.
 */
export async function closeAmqpConnectionsOf(pid: number, role?: 'consume' | 'publish'): Promise<number> {
  const { stdout: sockets } = await run('ss', ['-tnpH', 'state', 'established', '( dport = :5672 )']);
  const ports = new Set(
    sockets
      .split('\n')
      .filter((line) => line.includes(`pid=${pid},`))
      .map((line) => line.trim().split(/\s+/)[2]?.split(':').at(-1)),
  );
  // Plain output: `<pid>\t<peer port>\t<client properties>`, the last holding the connection's name.
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'peer_port', 'client_properties'], {
    timeout: 30_000,
  });
  const targets = stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([, port, properties]) => ports.has(port) && (role === undefined || properties?.includes(`:${role}"}`)));
  for (const [connection] of targets) {
    await run('rabbitmqctl', ['-q', 'close_connection', connection!, 'closed by a fault test'], { timeout: 30_000 });
  }
  return targets.length;
}

/**
 * Checks one raw client's stream: every event once, in publish order (`step`), with consecutive
 * seq; returns a description of what is wrong (empty when nothing).
 */
export function streamProblems(events: TripUpdatedMessage[], stepOf: (e: TripUpdatedMessage) => number): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  let previous: TripUpdatedMessage | undefined;
  for (const event of events) {
    const seq = seen.get(event.eventId);
    if (seq !== undefined) problems.push(`${event.eventId} twice (seq ${seq} and ${event.seq})`);
    seen.set(event.eventId, event.seq);
    if (previous && stepOf(event) <= stepOf(previous)) problems.push(`step ${stepOf(event)} after ${stepOf(previous)}`);
    if (previous && event.epoch === previous.epoch && event.seq !== previous.seq + 1) {
      problems.push(`seq ${event.seq} after ${previous.seq}`);
    }
    previous = event;
  }
  return problems;
}
