import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BenchReport } from '../../bench/lib/report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results', 'latest.json');
const amqpUrl = inject('amqpUrl');
// The peer needs Redis; test/setup finds it (and fails under CI without it).
const redisUrl = inject('redisUrl');

/** Tiny sizes: every scenario on every system in well under a minute; numbers, not speed. */
const TINY = [
  '--clients=20',
  '--trips=2',
  '--rates=20',
  '--step-seconds=1',
  '--warmup-seconds=0.2',
  '--grace-ms=2000',
  '--broadcast-clients=20',
  '--broadcast-seconds=1',
  '--broadcast-burst=3',
  '--burst-clients=20',
  '--burst-trips=2',
  '--burst-events=50',
  '--drain-events=200',
  '--idle=200',
  '--max-seconds=50',
];

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // SIGINT first: the runner then stops its own processes and deletes its queues.
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!amqpUrl || !redisUrl)('the benchmark harness (tiny sizes)', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  const resultsBefore = existsSync(RESULTS) ? statSync(RESULTS).mtimeMs : undefined;

  beforeAll(() => {
    // The global set-up built src/; the harness compiles beside it (dist/bench).
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'bench', 'tsconfig.json')], { stdio: 'inherit' });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs every scenario on all four systems, reports numbers and ratios, and leaves nothing behind', async () => {
    const { code, output } = await runBench([...TINY, `--amqp-url=${amqpUrl}`, `--redis-url=${redisUrl}`, `--out=${out}`], 55_000);
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;

    expect(report.meta.cpus).toBeGreaterThan(0);
    expect(report.meta.commit).toMatch(/^[0-9a-f]{4,}$|^unknown$/);
    for (const name of ['bridge', 'naive', 'peer', 'ceiling'] as const) {
      const r = report.systems[name];
      expect(r?.error, `${name}: ${r?.error}`).toBeUndefined();
      expect(r?.idle?.connected, name).toBe(200);
      expect(Number.isFinite(r?.idle?.bytesPerConnection), name).toBe(true);
      expect(r?.idle?.connectPerSec, name).toBeGreaterThan(0);
      const step = r?.fanout?.steps[0];
      expect(step?.delivered, name).toBeGreaterThan(0);
      expect(step?.p99Ms, name).toBeGreaterThan(0);
      expect(step?.maxMs, name).toBeGreaterThanOrEqual(step?.p99Ms ?? Infinity);
      expect(r?.broadcast?.latency.delivered, name).toBeGreaterThan(0);
      expect(r?.broadcast?.burst.deliveriesPerSec, name).toBeGreaterThan(0);
      expect(r?.burst?.delivered, name).toBe(50 * 10);
      expect(step?.cpu.server, name).toBeGreaterThanOrEqual(0);
    }
    expect(report.systems.bridge?.drain?.eventsPerSec).toBeGreaterThan(0);
    expect(report.systems.naive?.drain?.eventsPerSec).toBeGreaterThan(0);
    expect(report.systems.peer?.drain).toBeNull();
    expect(report.systems.ceiling?.drain).toBeNull();

    // Every figure carries its three ratios (bridge ÷ naive / peer / ceiling) where both sides exist.
    const p99 = report.summary.find((row) => row.figure.startsWith('fan-out: p99'));
    for (const other of ['naive', 'peer', 'ceiling'] as const) expect(p99?.ratios[other]).toBeGreaterThan(0);
    expect(report.summary.find((row) => row.figure.startsWith('drain'))?.ratios.peer).toBeNull();
    const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(markdown).toContain('bridge ÷ ceiling');
    expect(output).toContain('bridge ÷ naive');

    // Nothing left: no process, no queue, no exchange; and the committed results are untouched.
    for (const pid of report.meta.processes) expect(alive(pid), `process ${pid}`).toBe(false);
    const connection = new Connection({ url: amqpUrl!, retryLow: 100, retryHigh: 1000 });
    connection.on('error', () => undefined);
    try {
      expect(report.meta.declared.queues.length).toBe(4);
      for (const queue of report.meta.declared.queues) {
        await expect(connection.queueDeclare({ queue, passive: true }), queue).rejects.toThrow();
      }
      for (const exchange of report.meta.declared.exchanges) {
        await expect(connection.exchangeDeclare({ exchange, type: 'topic', passive: true }), exchange).rejects.toThrow();
      }
    } finally {
      await connection.close();
    }
    expect(existsSync(RESULTS) ? statSync(RESULTS).mtimeMs : undefined).toBe(resultsBefore);
  }, 75_000);
});
