/**
 * What a client that stops reading costs the server: `npm run bench:slow-reader -- --runs=3`.
 *
 * One bridge process per case (`npm start`'s build), a reading client and a never-reading one in one
 * trip (its TCP socket paused: connected, not reading), then `--megabytes` of 20 KB trip events
 * through RabbitMQ. Reports what the bridge holds once the reader has everything, above what it held
 * before the burst, both after two forced garbage collections (its V8 heap in use plus the memory
 * outside it, Buffers: what a stalled socket's unsent data takes); also its resident memory's peak
 * growth (noisy: V8 keeps the heap it grew), whether the stalled socket was cut, and in how long. The cases
 * run alternately: the cap as configured (MAX_PENDING_BYTES_PER_SOCKET, default 1 MiB), no cap (1 TB),
 * and a baseline without the stalled socket: the same traffic's own churn (V8 keeps the heap it grew
 * for a burst), which the other two are compared against.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { Connection } from 'rabbitmq-client';
import { BenchBroker, runScopedName } from './lib/broker.js';
import { createInterface } from 'node:readline';
import { rssBytes, freePort, stopChild } from './lib/children.js';
import { inspectorUrlIn, memoryAfterGc, type AfterGc } from './lib/inspector.js';
import { sleep } from './lib/clock.js';
import { signBenchToken } from './lib/tokens.js';

const SECRET = 'slow-reader-bench-secret-0123456789';
const EVENT_BYTES = 20 * 1024;
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const runs = Number(args.runs ?? 3);
const megabytes = Number(args.megabytes ?? 80);
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

interface Result {
  case: string;
  /** Heap in use plus external memory after forced collections: after the burst minus before it. */
  retainedGrowthMb: number;
  peakGrowthMb: number;
  afterGrowthMb: number;
  cut: boolean;
  seconds: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function connect(url: string, token: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function runCase(name: string, capBytes: number | undefined, stall: boolean, runId: string): Promise<Result> {
  const broker = new BenchBroker(amqpUrl);
  const queue = runScopedName(runId, name);
  await broker.declareTopology(`${queue}.events`, queue);
  const port = await freePort();
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', 'dist/src/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      JWT_SECRET: SECRET,
      AMQP_URL: amqpUrl,
      AMQP_EXCHANGE: `${queue}.events`,
      AMQP_QUEUE: queue,
      LOG_LEVEL: 'warn',
      ...(capBytes === undefined ? {} : { MAX_PENDING_BYTES_PER_SOCKET: String(capBytes) }),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let inspector: string | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const url = inspectorUrlIn(line);
    if (url) inspector = url;
    else if (!/^(For help, see|Debugger (attached|ending))/.test(line)) process.stderr.write(`${line}\n`);
  });
  const retained = (m: AfterGc | undefined) => (m ? m.heapUsed + m.external : Number.NaN);
  const publisher = new Connection({ url: amqpUrl, connectionName: 'slow-reader-bench' });
  const sockets: Socket[] = [];
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if ((await fetch(`${url}/api/v1/socket/health`).catch(() => undefined))?.ok) break;
      if (i > 100) throw new Error('the bridge did not start');
      await sleep(100);
    }
    const tripId = 'slow-reader-trip';
    const token = await signBenchToken(SECRET, 'slow-reader', [tripId]);
    const reader = await connect(url, token);
    const stalled = stall ? await connect(url, token) : undefined;
    sockets.push(reader, ...(stalled ? [stalled] : []));
    for (const s of sockets) await s.timeout(5000).emitWithAck('trip:join', { tripId });
    let received = 0;
    reader.on('trip:updated', () => (received += 1));
    let cut = false;
    stalled?.on('disconnect', () => (cut = true));
    if (stalled) (stalled.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws._socket.pause();

    await sleep(1000);
    const heldBefore = retained(await memoryAfterGc(inspector));
    const before = rssBytes(child.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(child.pid!))), 50);
    const send = publisher.createPublisher({ confirm: true, maxAttempts: 3 });
    const count = Math.ceil((megabytes * 1024 * 1024) / EVENT_BYTES);
    const payload = randomBytes(EVENT_BYTES * 0.75).toString('base64');
    const started = Date.now();
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, k) =>
          send.send(
            { exchange: `${queue}.events`, routingKey: 'trip.updated', contentType: 'application/cloudevents+json' },
            { specversion: '1.0', id: `${runId}-${i + k}`, source: 'slow-reader-bench', type: 'trip.updated', time: new Date().toISOString(), data: { tripId, changes: { payload } } },
          ),
        ),
      );
    }
    while (received < count && Date.now() - started < 120_000) await sleep(50);
    const seconds = (Date.now() - started) / 1000;
    const heldAfter = retained(await memoryAfterGc(inspector));
    await sleep(3000);
    clearInterval(sampler);
    const after = rssBytes(child.pid!);
    await send.close();
    // The stalled client learns of the cut only once it reads again.
    if (stalled) (stalled.io.engine.transport as unknown as { ws?: { _socket: { resume(): void } } }).ws?._socket.resume();
    await sleep(300);
    return { case: name, retainedGrowthMb: mb(heldAfter - heldBefore), peakGrowthMb: mb(peak - before), afterGrowthMb: mb(after - before), cut: stalled ? cut || !stalled.connected : false, seconds };
  } finally {
    for (const s of sockets) s.disconnect();
    await publisher.close();
    await stopChild(child);
    await broker.deleteDeclared();
    await broker.close();
  }
}

const CASES = [
  ['baseline', undefined, false],
  ['cap-default', undefined, true],
  ['no-cap', 1e12, true],
] as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const runId = `slow.${Date.now().toString(36)}`;
  const results: Result[] = [];
  for (let run = 0; run < runs; run++) {
    for (const [name, cap, stall] of CASES) {
      const result = await runCase(`${name}.${run}`, cap, stall, runId);
      console.log(JSON.stringify(result));
      results.push({ ...result, case: name });
    }
  }
  for (const [name] of CASES) {
    const mine = results.filter((r) => r.case === name);
    const held = mine.map((r) => r.retainedGrowthMb);
    const peaks = mine.map((r) => r.peakGrowthMb);
    console.log(
      `${name}: ${megabytes} MB of events; held after the burst (after GC) median +${median(held)} MB (${Math.min(...held)}–${Math.max(...held)}); ` +
        `peak RSS growth median ${median(peaks)} MB (${Math.min(...peaks)}–${Math.max(...peaks)}); ` +
        `stalled socket cut in ${mine.filter((r) => r.cut).length}/${mine.length} runs`,
    );
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
