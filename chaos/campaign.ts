import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'rabbitmq-client';
import { checkHistory, formatReport, type CheckReport } from './check/index.js';
import { auditTrips, RawChaosClient, TypedChaosClient, type ChaosClient } from './clients.js';
import { Deployment } from './deployment.js';
import { FaultInjector, schedule } from './faults.js';
import type { ChaosHistory, DeadLetterRecord } from './history.js';
import { Rng } from './rng.js';
import { Publisher } from './workload.js';

export interface CampaignOptions {
  seed: number;
  amqpUrl: string;
  /** How long faults are injected; healing and the checks come after. */
  faultPhaseMs: number;
  /** About one fault this often (every kind at least once, whatever the phase's length). */
  faultSpacingMs?: number;
  instances?: number;
  typedClients?: number;
  rawClients?: number;
  trips?: number;
  /** Steady events per second. */
  rate?: number;
  /** Events per burst, and how often bursts come. */
  burst?: { size: number; everyMs: number };
  /** Where the history and the report go (JSON), if anywhere. */
  outDir?: string;
  log?: (line: string) => void;
}

export interface CampaignResult {
  history: ChaosHistory;
  report: CheckReport;
  text: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds or `timeoutMs` passes; returns whether it held. */
async function settle(done: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await sleep(250);
  }
  return false;
}

/** Everything in the dead-letter queue, read without taking it (a consumer that never acknowledges). */
async function readDeadLetters(connection: Connection, queue: string): Promise<DeadLetterRecord[]> {
  const { messageCount } = await connection.queueDeclare({ queue, passive: true });
  const found: DeadLetterRecord[] = [];
  if (messageCount === 0) return found;
  const ch = await connection.acquire();
  try {
    await ch.basicQos({ prefetchCount: messageCount });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      void ch.basicConsume({ queue }, (msg) => {
        const headers = msg.headers ?? {};
        found.push({ id: msg.messageId, reason: headers['x-rejection-reason'] as string, detail: headers['x-rejection-detail'] as string });
        if (found.length >= messageCount) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await ch.close();
  }
  return found;
}

/**
 * One seeded fault campaign: a deployment of its own (bridge processes, a private Redis, the shared
 * RabbitMQ under names of its own), a publisher, typed and raw clients behind a balancer; faults of
 * every kind while events flow in bursts; then healing, quiescence, a final audit, and the checker.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const log = options.log ?? (() => undefined);
  const rng = new Rng(options.seed);
  const size = options.instances ?? 3;
  const tripIds = Array.from({ length: options.trips ?? 12 }, (_, i) => `ct${i + 1}`);
  const name = `chaos.${options.seed}.${process.pid}.${Date.now().toString(36)}`;
  const d = new Deployment({ amqpUrl: options.amqpUrl, name, env: { HISTORY_SIZE: '5000', HISTORY_TTL_SECONDS: '600' } });
  const clients: ChaosClient[] = [];
  const startedAt = Date.now();
  try {
    await d.start(size);
    log(`deployment ${name}: ${size} instances, private Redis on ${d.redis.port}`);
    const url = `http://127.0.0.1:${d.balancer.port}`;
    const clientRng = rng.fork(1);
    const users: string[] = [];
    for (let i = 0; i < (options.typedClients ?? 8); i++) {
      const allowed = clientRng.shuffle(tripIds).slice(0, 5);
      users.push(`tu${i}`);
      clients.push(new TypedChaosClient(`typed-${i}`, `tu${i}`, url, allowed, clientRng.int(2, 3)));
    }
    for (let i = 0; i < (options.rawClients ?? 8); i++) {
      const allowed = clientRng.shuffle(tripIds).slice(0, 5);
      users.push(`ru${i}`);
      clients.push(new RawChaosClient(`raw-${i}`, `ru${i}`, url, allowed, clientRng.int(2, 3)));
    }
    for (let i = 0; i < 20; i++) users.push(`offline-${i}`);
    await Promise.all(clients.map((c) => c.start()));
    log(`${clients.length} clients connected`);

    const publisher = new Publisher(d.amqp, d.exchange, rng.fork(2), { trips: tripIds, users, rate: options.rate ?? 150 }, `c${options.seed}`);
    await publisher.start();
    const injector = new FaultInjector(d, rng.fork(3), size, () => publisher.stateLost());
    const kinds = schedule(rng.fork(4), options.faultPhaseMs, options.faultSpacingMs ?? 10_000);
    const faultEnd = Date.now() + options.faultPhaseMs;

    // Three loops side by side until the fault phase ends: clients acting, bursts, and the faults one after another.
    let running = true;
    const busy = new Set<string>();
    const acting = Promise.all(
      clients.map(async (client, i) => {
        const own = rng.fork(100 + i);
        while (running) {
          await sleep(own.int(1_000, 5_000));
          busy.add(client.id);
          if (running) await client.act(own);
          busy.delete(client.id);
        }
      }),
    );
    const burst = options.burst ?? { size: 6_000, everyMs: 30_000 };
    const bursting = (async () => {
      const own = rng.fork(5);
      while (running) {
        await sleep(own.int(burst.everyMs / 2, burst.everyMs));
        if (running) await publisher.burst(burst.size);
      }
    })();
    const gap = Math.max(500, options.faultPhaseMs / kinds.length);
    for (const kind of kinds) {
      const at = Date.now();
      log(`+${((at - startedAt) / 1000).toFixed(1)}s fault ${kind}`);
      await injector.inject(kind).catch((err: Error) => log(`fault ${kind} failed: ${err.message}`));
      await sleep(Math.max(0, at + gap - Date.now()));
    }
    await sleep(Math.max(0, faultEnd - Date.now()));
    running = false;
    log('fault phase over: waiting for the clients and the bursts to finish');
    const watchdog = setInterval(() => log(`still busy: ${[...busy].join(', ')} bursting=${publisher.bursting}`), 10_000);
    await Promise.all([acting, bursting]);
    clearInterval(watchdog);
    await publisher.stop();
    log(`published ${publisher.published.length} messages`);

    // Healing: every fault ended, every client back, until the queue is empty and nothing moves.
    const healedAt = Date.now();
    log(`+${((healedAt - startedAt) / 1000).toFixed(1)}s healing`);
    await injector.heal();
    await Promise.all(clients.map((c) => c.heal()));
    log('healed: waiting for health, an empty queue and quiet clients');
    await settle(async () => (await Promise.all(d.running().map((i) => i.health()))).every((s) => s === 200), 60_000);
    await settle(async () => (await d.queueDepth()) === 0, 120_000);
    let lastCount = -1;
    await settle(() => {
      const count = clients.reduce((sum, c) => sum + c.received(), 0);
      const quiet = count === lastCount;
      lastCount = count;
      return quiet;
    }, 60_000);
    await sleep(2_000);

    log('auditing');
    const publishedTrips = [...new Set(publisher.published.flatMap((p) => p.streams).filter((s) => s.startsWith('trip:')))];
    const streams = await auditTrips(url, publishedTrips.map((s) => s.slice('trip:'.length)), 200);
    const health: Record<string, number> = {};
    for (const instance of d.running()) health[instance.name] = await instance.health();
    const history: ChaosHistory = {
      seed: options.seed,
      startedAt,
      endedAt: Date.now(),
      healedAt,
      instances: d.instances.map((i) => i.name),
      published: publisher.published,
      clients: clients.map((c) => c.record()),
      faults: injector.faults,
      final: {
        queueMessages: await d.queueDepth(),
        deadLetters: await readDeadLetters(d.amqp, `${d.queue}.dead-letter`),
        health,
        streams,
      },
    };
    const report = checkHistory(history);
    const text = formatReport(report, history);
    if (options.outDir) {
      mkdirSync(options.outDir, { recursive: true });
      writeFileSync(join(options.outDir, `seed-${options.seed}.report.json`), JSON.stringify(report, null, 2));
      writeFileSync(join(options.outDir, `seed-${options.seed}.history.json`), JSON.stringify(history));
      const notable = d.instances.flatMap((i) => i.notable.map((line) => `${i.name} ${line}`));
      writeFileSync(join(options.outDir, `seed-${options.seed}.instances.log`), notable.join('\n'));
    }
    return { history, report, text };
  } finally {
    for (const client of clients) client.close();
    await d.close();
  }
}
