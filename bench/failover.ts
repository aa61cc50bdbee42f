/**
 * `npm run bench:failover`: what a crash of the consuming instance costs the clients of the others.
 *
 * Two bridge processes share one queue and Redis. A client on each joins one trip while a publisher
 * sends trip events at a fixed rate, each stamped with its send time. Mid-stream the consuming
 * instance is killed (SIGKILL). For the client on the survivor the run reports the longest silence
 * between two events, the publish-to-receive latency of the events sent during the handover, and
 * whether every event arrived once, in order. Repeated `--runs` times; medians at the end.
 *
 * Flags: --runs=5 --rate=200 --seconds=6 --kill-at=2.5 --amqp-url=… --redis-url=…
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { TripUpdatedMessage } from '../contracts/index.js';
import { createEventPublisher } from '../src/broker/publisher.js';
import { BenchBroker, runScopedName } from './lib/broker.js';
import { freePort, OutputTail } from './lib/children.js';
import { now, sleep } from './lib/clock.js';
import { BenchRedis } from './lib/redis-keys.js';
import { signBenchToken } from './lib/tokens.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const SECRET = 'bench-failover-secret-0123456789';
const TRIP = 'failover-trip';

const flag = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const options = {
  runs: Number(flag('runs', '5')),
  rate: Number(flag('rate', '200')),
  seconds: Number(flag('seconds', '6')),
  killAt: Number(flag('kill-at', '2.5')),
  amqpUrl: flag('amqp-url', process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'),
  redisUrl: flag('redis-url', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
};

interface Instance {
  child: ChildProcess;
  url: string;
  tail: OutputTail;
}

async function startInstance(queue: string): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      JWT_SECRET: SECRET,
      AMQP_URL: options.amqpUrl,
      AMQP_QUEUE: queue,
      AMQP_EXCHANGE: `${queue}.events`,
      REDIS_URL: options.redisUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = new OutputTail().attach(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`a bridge exited:\n${tail.text()}`);
    if (await fetch(`${url}/api/v1/socket/health`).then((r) => r.ok, () => false)) return { child, url, tail };
    if (Date.now() > deadline) throw new Error(`a bridge did not become healthy:\n${tail.text()}`);
    await sleep(50);
  }
}

async function consumedBy(instance: Instance): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  return Number(/^bridge_events_consumed_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** A client joined to the trip, recording each event with its arrival time. */
async function client(instance: Instance, user: string) {
  const socket: Socket = io(instance.url, {
    transports: ['websocket'],
    reconnection: false,
    auth: { token: await signBenchToken(SECRET, user, [TRIP]) },
  });
  const received: Array<{ step: number; seq: number; sentAt: number; at: number }> = [];
  socket.on('trip:updated', (m: TripUpdatedMessage) => {
    const { step, sentAt } = (m.data as unknown as { changes: { step: number; sentAt: number } }).changes;
    received.push({ step, seq: m.seq, sentAt, at: now() });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (await socket.timeout(10_000).emitWithAck('trip:join', { tripId: TRIP })) as { ok: boolean };
  if (!ack.ok) throw new Error(`join refused: ${JSON.stringify(ack)}`);
  return { socket, received };
}

interface RunResult {
  sent: number;
  receivedOnce: number;
  inOrder: boolean;
  repeats: number;
  longestGapMs: number;
  handoverP50Ms: number;
  handoverMaxMs: number;
}

async function run(index: number, redis: BenchRedis): Promise<RunResult> {
  // One broker helper per run: it declares nothing more once it deleted what it declared.
  const broker = new BenchBroker(options.amqpUrl);
  const queue = runScopedName(`${Date.now().toString(36)}${index}`, 'failover');
  const exchange = `${queue}.events`;
  await broker.declareTopology(exchange, queue);
  redis.register(`${queue}:`);
  const instances = [await startInstance(queue), await startInstance(queue)];
  const publisher = createEventPublisher({ connection: options.amqpUrl, exchange, source: 'bench', onError: () => undefined });
  try {
    const clients = [await client(instances[0]!, 'u0'), await client(instances[1]!, 'u1')];
    const total = Math.round(options.rate * options.seconds);
    const interval = 1000 / options.rate;
    const start = now();
    let killedAt = 0;
    let survivor = 1;
    const sends: Array<Promise<unknown>> = [];
    for (let step = 1; step <= total; step++) {
      const due = start + step * interval;
      while (now() < due) await sleep(1);
      sends.push(publisher.publish('trip.updated', { tripId: TRIP, changes: { step, sentAt: now() } }));
      if (!killedAt && now() - start >= options.killAt * 1000) {
        const consuming = (await consumedBy(instances[0]!)) > 0 ? 0 : 1;
        survivor = 1 - consuming;
        instances[consuming]!.child.kill('SIGKILL');
        killedAt = now();
      }
    }
    await Promise.all(sends);
    const watcher = clients[survivor]!;
    const deadline = Date.now() + 30_000;
    while (new Set(watcher.received.map((r) => r.step)).size < total && Date.now() < deadline) await sleep(50);
    await sleep(300);

    const once = new Map<number, (typeof watcher.received)[number]>();
    for (const r of watcher.received) if (!once.has(r.step)) once.set(r.step, r);
    const ordered = [...once.values()];
    const inOrder = ordered.every((r, i) => r.step === i + 1 && r.seq === i + 1);
    let longestGapMs = 0;
    for (let i = 1; i < ordered.length; i++) longestGapMs = Math.max(longestGapMs, ordered[i]!.at - ordered[i - 1]!.at);
    // The events sent from the kill until the survivor was delivering again.
    const handover = ordered.filter((r) => r.sentAt >= killedAt - 50 && r.sentAt <= killedAt + longestGapMs).map((r) => r.at - r.sentAt);
    handover.sort((a, b) => a - b);
    for (const c of clients) c.socket.disconnect();
    return {
      sent: total,
      receivedOnce: once.size,
      inOrder,
      repeats: watcher.received.length - once.size,
      longestGapMs,
      handoverP50Ms: handover[Math.floor(handover.length / 2)] ?? 0,
      handoverMaxMs: handover.at(-1) ?? 0,
    };
  } finally {
    await publisher.close();
    for (const instance of instances) instance.child.kill('SIGKILL');
    await sleep(200);
    await broker.deleteDeclared();
    await broker.close();
    await redis.deleteKeys(`${queue}:`);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const redis = new BenchRedis(options.redisUrl);
const results: RunResult[] = [];
for (let i = 0; i < options.runs; i++) {
  const result = await run(i, redis);
  results.push(result);
  console.log(
    `run ${i + 1}: ${result.receivedOnce}/${result.sent} once, ${result.inOrder ? 'in order' : 'OUT OF ORDER'}, ` +
      `${result.repeats} repeated; longest silence ${result.longestGapMs.toFixed(0)} ms; ` +
      `handover latency p50 ${result.handoverP50Ms.toFixed(0)} ms, max ${result.handoverMaxMs.toFixed(0)} ms`,
  );
}
console.log(
  `\nmedians over ${results.length} runs (${options.rate} events/s, kill after ${options.killAt} s): ` +
    `longest silence ${median(results.map((r) => r.longestGapMs)).toFixed(0)} ms, ` +
    `handover latency p50 ${median(results.map((r) => r.handoverP50Ms)).toFixed(0)} ms, ` +
    `max ${median(results.map((r) => r.handoverMaxMs)).toFixed(0)} ms; ` +
    `complete and in order in ${results.filter((r) => r.inOrder && r.receivedOnce === r.sent).length} of ${results.length}`,
);
