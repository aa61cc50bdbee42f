import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientPool } from './clients/pool.js';
import { BenchBroker, runScopedName } from './lib/broker.js';
import { Children, freePort, OutputTail } from './lib/children.js';
import { sleep } from './lib/clock.js';
import { answers } from './lib/tcp.js';
import { BenchRedis } from './lib/redis-keys.js';
import { AmqpSource } from './systems/amqp-source.js';

/**
 * `npm run bench:instructions -- [--events=20000] [--warmup=3000] [--trips=200] [--clients=0] [--redis] [--count=bridge|redis] [--runs=1] [--keep]`
 *
 * What one consumed trip event costs the bridge, in instructions of its own process, counted by
 * valgrind's callgrind: the same count whatever else the machine is doing, where seconds on this
 * shared 2-core machine vary by a third from one minute to the next. The bridge starts under
 * callgrind on an empty queue, a warm-up lets the JIT settle, the counters are zeroed, `--events`
 * trip events are published (the typed publisher, in this process), and once the bridge counts them
 * all delivered the counters are dumped: instructions ÷ events. Kernel work (socket writes) is not
 * counted, only the process's own. With `--clients`, that many sockets join the trips (in child
 * processes), so that the hand-out is counted too. With `--count=redis`, the instructions counted
 * are those of a private redis-server the bridge (at full speed, in Redis mode) keeps its state in.
 */
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

interface Args {
  events: number;
  warmup: number;
  trips: number;
  clients: number;
  redis: boolean;
  /** Keeps the callgrind dumps, for callgrind_annotate. */
  keep: boolean;
  /** Whose instructions: the bridge's, or (with --redis) those of a private redis-server the bridge uses. */
  count: 'bridge' | 'redis';
  runs: number;
  amqpUrl: string;
  redisUrl: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    events: 20_000,
    warmup: 3_000,
    trips: 200,
    clients: 0,
    redis: false,
    keep: false,
    count: 'bridge',
    runs: 1,
    amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  for (const arg of argv) {
    const [flag, value = ''] = arg.replace(/^--/, '').split(/=(.*)/s, 2) as [string, string?];
    if (flag === 'redis') args.redis = true;
    else if (flag === 'keep') args.keep = true;
    else if (flag === 'count' && (value === 'bridge' || value === 'redis')) args.count = value;
    else if (flag === 'amqp-url') args.amqpUrl = value;
    else if (flag === 'redis-url') args.redisUrl = value;
    else if (flag in args && typeof args[flag as keyof Args] === 'number' && Number.isInteger(Number(value)) && Number(value) >= 0) {
      (args as unknown as Record<string, number>)[flag] = Number(value);
    } else throw new Error(`bad flag ${arg}`);
  }
  if (args.count === 'redis') args.redis = true;
  return args;
}

const delivered = async (port: number): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('bridge_events_delivered_total')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
};

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** The `summary:` (instructions executed) of the callgrind dumps written after the counters were zeroed. */
function dumpedInstructions(dir: string, pid: number): number {
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`));
  let total = 0;
  for (const file of dumps) total += Number(/^summary: (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'))?.[1] ?? Number.NaN);
  return total;
}

async function measure(args: Args, runIndex: number): Promise<number> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const queue = runScopedName(runId, 'instructions');
  const exchange = `${queue}.events`;
  const broker = new BenchBroker(args.amqpUrl);
  const redis = new BenchRedis(args.redisUrl);
  const source = new AmqpSource(args.amqpUrl, exchange);
  const children = new Children();
  const pool = args.clients > 0 ? ClientPool.start(children, 1) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'bridge-callgrind-'));
  const secret = `bench-${randomBytes(16).toString('hex')}`;
  const callgrind = ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'cg.%p')}`];
  let child: ChildProcess | undefined;
  let redisServer: ChildProcess | undefined;
  try {
    let redisUrl = args.redisUrl;
    if (args.count === 'redis') {
      // A private redis-server under callgrind; the bridge runs at full speed against it.
      const redisPort = await freePort();
      redisServer = spawn('valgrind', [...callgrind, 'redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      redisUrl = `redis://127.0.0.1:${redisPort}`;
      await until('the private redis-server to answer', () => answers(redisUrl, redisPort), 60_000);
    } else if (args.redis) redis.register(`${queue}:`);
    await broker.declareTopology(exchange, queue);
    const port = await freePort();
    const bridgeCommand = args.count === 'bridge' ? ['valgrind', [...callgrind, process.execPath, MAIN]] : [process.execPath, [MAIN]];
    child = spawn(
      bridgeCommand[0] as string,
      bridgeCommand[1] as string[],
      {
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'production',
          PORT: String(port),
          LOG_LEVEL: 'warn',
          JWT_SECRET: secret,
          AMQP_URL: args.amqpUrl,
          AMQP_QUEUE: queue,
          AMQP_EXCHANGE: exchange,
          ...(args.redis ? { REDIS_URL: redisUrl } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const tail = new OutputTail().attach(child);
    const pid = (args.count === 'redis' ? redisServer?.pid : child.pid) ?? -1;
    const health = async () => (await fetch(`http://127.0.0.1:${port}/api/v1/socket/health`, { signal: AbortSignal.timeout(5000) })).ok;
    await until(`the bridge to answer (${tail.text()})`, health, 300_000);
    if (pool) {
      const connected = await pool.connect({ url: `http://127.0.0.1:${port}`, secret, total: args.clients, trips: args.trips, concurrency: 5, addressSpread: 1000, timeoutMs: 120_000 });
      if (connected.failed > 0) throw new Error(`${connected.failed} clients failed to join: ${JSON.stringify(connected.errors)}`);
    }
    // Warm-up: the JIT compiles the hot path before anything is counted.
    await source.fill(args.warmup, args.trips, 'warmup');
    await until('the warm-up to be delivered', async () => (await delivered(port)) >= args.warmup, 600_000);
    spawnSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' });
    await source.fill(args.events, args.trips, 'counted');
    // The queue's depth is read from the broker, which costs the bridge nothing; a scrape of its
    // metrics costs it millions of instructions under callgrind, so they are asked for only at the end.
    await until('the queue to empty', async () => (await broker.depth(queue)) === 0, 1_800_000);
    await until('every counted event to be delivered', async () => (await delivered(port)) >= args.warmup + args.events, 60_000);
    spawnSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
    const instructions = dumpedInstructions(dir, pid);
    process.stderr.write(`run ${runIndex}: ${args.events} events, ${instructions.toLocaleString('en-US')} instructions\n`);
    return instructions / args.events;
  } finally {
    child?.kill('SIGKILL');
    redisServer?.kill('SIGKILL');
    await pool?.disconnect().catch(() => undefined);
    pool?.close();
    await children.stopAll();
    await source.close().catch(() => undefined);
    await broker.deleteDeclared().catch(() => undefined);
    await broker.close().catch(() => undefined);
    await redis.deleteRegistered().catch(() => undefined);
    if (args.keep) process.stderr.write(`callgrind dumps kept in ${dir} (callgrind_annotate)\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const args = parseArgs(process.argv.slice(2));
const perEvent: number[] = [];
for (let run = 1; run <= args.runs; run++) perEvent.push(await measure(args, run));
const sorted = [...perEvent].sort((a, b) => a - b);
const mode = `${args.count === 'redis' ? "Redis's, " : "the bridge's, "}${args.redis ? 'Redis' : 'memory'} mode, ${args.trips} trips, ${args.clients} sockets`;
process.stdout.write(
  `instructions per trip event (${mode}): ${perEvent.map((n) => Math.round(n).toLocaleString('en-US')).join(', ')}` +
    ` — median ${Math.round(sorted[sorted.length >> 1]!).toLocaleString('en-US')}\n`,
);
process.exit(0);
