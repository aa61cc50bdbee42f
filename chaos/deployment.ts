import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from 'rabbitmq-client';
import { createClient, type RedisClientType } from 'redis';
import { Balancer, FaultyLink } from './net.js';
import { PrivateRedis } from './redis-server.js';

const run = promisify(execFile);
/** The compiled service, from dist/chaos (npm run chaos) or from the sources (the tests, with the build beside them). */
const MAIN = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../src/main.js' : '../dist/src/main.js', import.meta.url));

/** The HS256 secret of the campaign's instances and clients. */
export const CHAOS_SECRET = 'chaos-secret-for-the-realtime-bridge';

/** One bridge process, with the link to Redis that faults can cut or slow down. */
export class Instance {
  readonly lines: string[] = [];
  port = 0;
  /** When this instance last took the streams over (its `consumer.lease_acquired` line), or 0. */
  leaseAt = 0;
  /** Its lines worth reading after a run (errors, catch-ups, fencing), the first 500. */
  readonly notable: string[] = [];
  private readonly exit: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly link: FaultyLink,
  ) {
    this.exit = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.includes('"consumer.lease_acquired"')) this.leaseAt = Date.now();
        if (this.notable.length < 500 && /^\{"level":(50|60)|"event":"(feed\.|consumer\.fenced|consumer\.lease)/.test(line)) this.notable.push(line);
        this.lines.push(line);
        // Only the recent past matters for the report; a long run must not keep every line.
        if (this.lines.length > 2_000) this.lines.splice(0, 1_000);
      });
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Waits for `bridge.started`, and returns its port. */
  async started(timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        if (!line.includes('"bridge.started"')) continue;
        this.port = (JSON.parse(line) as { port: number }).port;
        return this.port;
      }
      if (!this.running || Date.now() > deadline) throw new Error(`${this.name} did not start:\n${this.lines.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  exited(timeoutMs: number): Promise<number | null> {
    return Promise.race([this.exit, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${this.name} did not exit`)), timeoutMs))]);
  }

  async health(): Promise<number> {
    try {
      return (await fetch(`${this.url}/api/v1/socket/health`, { signal: AbortSignal.timeout(3_000) })).status;
    } catch {
      return 0;
    }
  }
}

export interface DeploymentOptions {
  amqpUrl: string;
  /** Names the queue, exchange and keys of this run: nothing is shared with anyone else. */
  name: string;
  env?: Record<string, string>;
}

/**
 * What a campaign runs against: bridge instances sharing one queue and a private Redis (each behind a
 * link of its own), the shared RabbitMQ, and the clients' load balancer.
 */
export class Deployment {
  readonly instances: Instance[] = [];
  readonly balancer = new Balancer();
  readonly amqp: Connection;
  redis!: PrivateRedis;
  private control!: RedisClientType;
  private started = 0;

  constructor(readonly options: DeploymentOptions) {
    this.amqp = new Connection({ url: options.amqpUrl, connectionName: `chaos:${options.name}:control`, retryLow: 100, retryHigh: 1_000 });
    this.amqp.on('error', () => undefined);
  }

  get queue(): string {
    return this.options.name;
  }

  get exchange(): string {
    return `${this.options.name}.events`;
  }

  async start(instances: number): Promise<void> {
    this.redis = await PrivateRedis.start();
    this.control = createClient({ url: this.redis.url, socket: { reconnectStrategy: 100 } });
    this.control.on('error', () => undefined);
    await this.control.connect();
    await this.balancer.start();
    await this.amqp.onConnect(10_000, true);
    await this.amqp.exchangeDeclare({ exchange: this.exchange, type: 'topic', durable: true });
    for (let i = 0; i < instances; i++) await this.add();
  }

  /** Starts one more instance and puts it behind the balancer. */
  async add(): Promise<Instance> {
    const name = `i${++this.started}`;
    const link = await new FaultyLink(this.redis.port).start();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: '0',
        LOG_LEVEL: 'info',
        JWT_SECRET: CHAOS_SECRET,
        AMQP_URL: this.options.amqpUrl,
        AMQP_QUEUE: this.queue,
        AMQP_EXCHANGE: this.exchange,
        REDIS_URL: `redis://127.0.0.1:${link.port}`,
        HANDSHAKES_PER_ADDRESS: '100000',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const instance = new Instance(name, child, link);
    this.instances.push(instance);
    this.balancer.add(await instance.started());
    return instance;
  }

  running(): Instance[] {
    return this.instances.filter((i) => i.running);
  }

  /** Takes a stopped or stopping instance out of the balancer and closes its link. */
  async retire(instance: Instance): Promise<void> {
    this.balancer.remove(instance.port);
    if (!instance.running) await instance.link.close();
  }

  /** The instance that consumes now: of the running ones, the one that took the streams over last. */
  active(): Instance | undefined {
    const live = this.running().filter((i) => i.leaseAt > 0);
    return live.sort((a, b) => b.leaseAt - a.leaseAt)[0];
  }

  /** Closes, from the broker's side, the instance's consuming AMQP connection (its name ends with `<pid>:consume`). */
  async closeConsumeConnection(instance: Instance): Promise<number> {
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { timeout: 30_000 });
    const pids = stdout
      .split('\n')
      .filter((line) => line.includes(`:${instance.pid}:consume"}`) && line.includes(this.queue))
      .map((line) => line.split('\t')[0]!);
    for (const pid of pids) await run('rabbitmqctl', ['-q', 'close_connection', pid, 'closed by the chaos campaign'], { timeout: 30_000 });
    return pids.length;
  }

  /** Messages in the bridge queue, ready and unacknowledged (the broker's own count). */
  async queueDepth(): Promise<number> {
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', 'name', 'messages'], { timeout: 30_000 });
    const line = stdout.split('\n').find((l) => l.split('\t')[0] === this.queue);
    return Number(line?.split('\t')[1] ?? NaN);
  }

  /** The private Redis, for commands the faults need (SAVE, CLIENT KILL). */
  redisCommand(...args: string[]): Promise<unknown> {
    return this.control.sendCommand(args);
  }

  async close(): Promise<void> {
    for (const instance of this.instances) {
      instance.child.kill('SIGCONT');
      instance.child.kill('SIGKILL');
    }
    await Promise.all(this.instances.map((i) => i.exited(10_000).catch(() => undefined)));
    for (const instance of this.instances) await instance.link.close().catch(() => undefined);
    await this.balancer.close();
    await this.amqp.queueDelete({ queue: this.queue }).catch(() => undefined);
    await this.amqp.queueDelete({ queue: `${this.queue}.dead-letter` }).catch(() => undefined);
    await this.amqp.exchangeDelete({ exchange: this.exchange }).catch(() => undefined);
    await this.amqp.close();
    await this.control.quit().catch(() => undefined);
    await this.redis.stop();
  }
}
