import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientPool } from './clients/pool.js';
import { BenchBroker } from './lib/broker.js';
import { Children, openFileLimit } from './lib/children.js';
import { now } from './lib/clock.js';
import { cpuWindow, findProcesses, machineBusyPercent } from './lib/cpu.js';
import { parseOptions, usage, UsageRequested, type Options } from './lib/options.js';
import { BenchRedis } from './lib/redis-keys.js';
import { summarize, toMarkdown, type BenchReport, type SystemResult } from './lib/report.js';
import { runBroadcast } from './scenarios/broadcast.js';
import { runBurst } from './scenarios/burst.js';
import { runDrain } from './scenarios/drain.js';
import { runFanout } from './scenarios/fanout.js';
import { runIdle } from './scenarios/idle.js';
import { progress, type ScenarioContext } from './scenarios/measure.js';
import { createSystem, type System, type SystemName } from './systems/index.js';
import type { RunContext } from './systems/types.js';
import { answers } from './lib/tcp.js';

/** dist/bench/run.js → the repository root. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** File descriptors a server keeps beyond its sockets (broker, Redis, stdio, libuv). */
const FD_MARGIN = 500;

/** The shared services each system cannot run without. */
const NEEDS: Record<SystemName, Array<'amqp' | 'redis'>> = {
  bridge: ['amqp'],
  'bridge-redis': ['amqp', 'redis'],
  naive: ['amqp'],
  peer: ['redis'],
  ceiling: [],
};

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Every scenario asked for, on one system, from a fresh server process. */
async function runSystem(system: System, pool: ClientPool, ctx: RunContext, options: Options): Promise<SystemResult> {
  const services = { rabbitmq: findProcesses('beam.smp'), redis: findProcesses('redis-server') };
  const scenario: ScenarioContext = {
    system,
    pool,
    secret: ctx.secret,
    options,
    cpuWindow: () => cpuWindow({ server: [system.pid], runner: [process.pid], clients: pool.pids, ...services }),
  };
  const result: SystemResult = {};
  const wants = (s: Options['scenarios'][number]) => options.scenarios.includes(s);
  const start = async () => {
    const { startupMs } = await system.start();
    result.startupMs ??= startupMs;
    progress(system.name, `started in ${Math.round(startupMs)} ms (pid ${system.pid})`);
  };
  await system.prepare();
  // Each on a fresh process: idle's RSS baseline holds nothing from the other scenarios, and the
  // fan-out is not measured while the garbage of thousands of closed sockets is collected.
  if (wants('idle')) {
    await start();
    result.idle = await runIdle(scenario);
    await system.stop();
  }
  if (wants('fanout') || wants('broadcast') || wants('burst')) {
    await start();
    if (wants('fanout')) result.fanout = await runFanout(scenario);
    if (wants('broadcast')) result.broadcast = await runBroadcast(scenario);
    if (wants('burst')) result.burst = await runBurst(scenario);
    await system.stop();
  }
  if (wants('drain')) result.drain = await runDrain(scenario, 240_000);
  return result;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageRequested) {
      process.stdout.write(`${usage()}\n`);
      return;
    }
    process.stderr.write(`${(err as Error).message}\n\n${usage()}\n`);
    process.exitCode = 2;
    return;
  }
  const startedAt = now();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const notes: string[] = [];
  // Sampled before anything of ours starts: what else is using the CPU.
  const busyBefore = await machineBusyPercent();
  if (busyBefore !== null && busyBefore > 10) {
    notes.push(`other work was using ${busyBefore} % of the machine's CPU when the run started: expect noisier figures.`);
  }
  const fileLimit = openFileLimit();
  const idleCap = fileLimit - FD_MARGIN;
  if (options.idle > idleCap) {
    notes.push(
      `idle sockets capped at ${idleCap} (asked ${options.idle}): the open-file limit (ulimit -n) is ${fileLimit} and each ` +
        'server socket holds a descriptor; raise the hard limit to measure more.',
    );
    options = { ...options, idle: idleCap };
  }

  const children = new Children();
  const broker = new BenchBroker(options.amqpUrl);
  const redis = new BenchRedis(options.redisUrl);
  const ctx: RunContext = {
    runId,
    children,
    broker,
    redis,
    amqpUrl: options.amqpUrl,
    redisUrl: options.redisUrl,
    secret: `bench-${randomBytes(16).toString('hex')}`,
  };
  const pool = ClientPool.start(children, options.clientProcesses);
  /** Set once clean-up began: no further system is started. */
  let stopping = false;
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      stopping = true;
      pool.close();
      await children.stopAll();
      await broker.deleteDeclared().catch(() => undefined);
      await broker.close().catch(() => undefined);
      // Only after every server stopped: nothing writes the keys any more.
      await redis.deleteRegistered();
    })());
  const abort = (why: string, code: number) => {
    process.stderr.write(`\n${why}: stopping every process and deleting this run's queues and Redis keys\n`);
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  const watchdog = setTimeout(() => abort(`watchdog: the run passed --max-seconds=${options.maxSeconds}`, 3), options.maxSeconds * 1000);
  // A stray rejection (a Redis reply after close, say) must not end the run without its clean-up.
  process.on('unhandledRejection', (reason) => process.stderr.write(`unhandled rejection: ${String(reason)}\n`));

  const reachable = {
    amqp: await answers(options.amqpUrl, 5672),
    redis: await answers(options.redisUrl, 6379),
  };
  const systems: BenchReport['systems'] = {};
  try {
    for (const name of options.systems) {
      if (stopping) break;
      const dependency = NEEDS[name].find((service) => !reachable[service]);
      if (dependency) {
        systems[name] = { error: `${dependency === 'amqp' ? `RabbitMQ at ${options.amqpUrl}` : `Redis at ${options.redisUrl}`} is unreachable` };
        progress(name, `skipped: ${systems[name]?.error}`);
        continue;
      }
      const system = createSystem(name, ctx, options.trips);
      try {
        systems[name] = await runSystem(system, pool, ctx, options);
      } catch (err) {
        systems[name] = { error: (err as Error).stack ?? String(err) };
        progress(name, `failed: ${(err as Error).message}`);
      } finally {
        await system.stop().catch(() => undefined);
        await system.close().catch(() => undefined);
      }
    }
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }

  const report: BenchReport = {
    meta: {
      runId,
      date: new Date().toISOString(),
      commit: commit(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${platform()} ${release()}`,
      openFileLimit: fileLimit,
      machineBusyBefore: busyBefore,
      durationSeconds: (now() - startedAt) / 1000,
      processes: [...children.pids],
      declared: broker.history,
      redisKeys: redis.history,
      notes,
      options,
    },
    systems,
    summary: summarize(systems, options),
  };
  const outDir = options.out ?? join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const markdown = toMarkdown(report);
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), markdown);
  process.stdout.write(`\n${markdown}\nwritten to ${join(outDir, 'latest.json')} and latest.md\n`);
  if (Object.values(systems).some((r) => r?.error)) process.exitCode = 1;
}

await main();
// Every resource is closed by now; a stray handle (a socket in a library) must not keep the run alive.
process.exit();
