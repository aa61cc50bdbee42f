import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BenchReport, SystemResult } from './lib/report.js';
import { SYSTEM_NAMES } from './systems/types.js';

/**
 * `npm run bench:compare -- [--runs=3] [--out=dir] [--checkout=label=path ...] -- <bench flags>`
 *
 * Runs `npm run bench` with the same flags several times, alternating between checkouts (each one
 * built: its own dist/), so that every version meets the same machine noise in turn; then prints,
 * per figure and system, the median of the runs with their range, and the server's CPU time per event
 * (drain, and each fan-out rate that every run measured): the figure least shaken by other work on
 * the machine. Without --checkout it runs this checkout alone (the table in docs/performance.md: three full runs).
 */
interface Args {
  runs: number;
  out: string;
  checkouts: Array<{ label: string; dir: string }>;
  bench: string[];
}

function parseArgs(argv: string[]): Args {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const args: Args = { runs: 3, out: '/tmp/bench-compare', checkouts: [], bench: split < 0 ? [] : argv.slice(split + 1) };
  for (const arg of own) {
    const [flag, value = ''] = arg.split(/=(.*)/s, 2) as [string, string?];
    if (flag === '--runs') args.runs = Number(value);
    else if (flag === '--out') args.out = value;
    else if (flag === '--checkout') {
      const [label, dir] = value.split(/=(.*)/s, 2) as [string, string?];
      if (!label || !dir) throw new Error('--checkout=label=path');
      args.checkouts.push({ label, dir: resolve(dir) });
    } else throw new Error(`unknown flag ${arg} (bench flags go after --)`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
  if (args.checkouts.length === 0) args.checkouts.push({ label: 'this', dir: resolve('.') });
  return args;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function fmt(v: number): string {
  const d = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** `median (min–max)` of the values that exist, or n/a. */
function cell(values: Array<number | null | undefined>): string {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return 'n/a';
  const range = xs.length > 1 ? ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '';
  return `${fmt(median(xs))}${range}`;
}

/** CPU microseconds per event of the server and of RabbitMQ, per window that has a rate: drain, burst, each fan-out rate. */
function cpuPerEvent(r: SystemResult | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const add = (window: string, cpu: { server?: number; rabbitmq?: number }, eventsPerSec: number) => {
    for (const who of ['server', 'rabbitmq'] as const) {
      const percent = cpu[who];
      if (percent !== undefined && eventsPerSec > 0) out.set(`${who} CPU µs per event: ${window}`, (percent / 100) * (1e6 / eventsPerSec));
    }
  };
  if (r?.drain) add('drain', r.drain.cpu, r.drain.events / (r.drain.drainMs / 1000));
  for (const step of r?.fanout?.steps ?? []) add(`fan-out ${step.rate}/s`, step.cpu, step.rate);
  // Events per second of the burst: its deliveries per second over the deliveries each event makes.
  if (r?.burst) add('burst', r.burst.cpu, r.burst.deliveriesPerSec / (r.burst.expected / r.burst.events));
  return out;
}

const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const reports = new Map<string, BenchReport[]>(args.checkouts.map((c) => [c.label, []]));
  for (let run = 1; run <= args.runs; run++) {
    for (const { label, dir } of args.checkouts) {
      const out = join(args.out, `${label}-${run}`);
      process.stderr.write(`run ${run}/${args.runs}: ${label} (${dir})\n`);
      const result = spawnSync(process.execPath, [join(dir, 'dist/bench/run.js'), ...args.bench, `--out=${out}`], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      if (result.status !== 0) process.stderr.write(`  ${label} run ${run} exited ${result.status}: figures of failed systems are left out\n`);
      reports.get(label)!.push(JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport);
    }
  }

  const labels = args.checkouts.map((c) => c.label);
  const commits = args.checkouts.map((c) => `${c.label} = ${reports.get(c.label)![0]?.meta.commit ?? gitCommit(c.dir)}`);
  const lines = [`## ${args.runs} alternating runs, ${new Date().toISOString().slice(0, 10)} (${commits.join(', ')})`, ''];
  lines.push(`Flags: \`${args.bench.join(' ') || '(defaults)'}\`. Each cell: median of the runs (min–max).`, '');
  const systems = SYSTEM_NAMES.filter((s) => labels.some((l) => reports.get(l)!.some((r) => r.systems[s] && !r.systems[s]?.error)));
  const header = ['figure', ...systems.flatMap((s) => labels.map((l) => (labels.length > 1 ? `${s} · ${l}` : s)))];
  const rows: string[][] = [];
  const first = reports.get(labels[0]!)![0]!;
  first.summary.forEach((row, i) => {
    const cells = systems.flatMap((s) => labels.map((l) => cell(reports.get(l)!.map((r) => r.summary[i]?.values[s]))));
    if (cells.every((c) => c === 'n/a')) return;
    rows.push([row.figure, ...cells]);
  });
  const cpuKeys = new Set<string>();
  for (const l of labels) for (const r of reports.get(l)!) for (const s of systems) for (const k of cpuPerEvent(r.systems[s]).keys()) cpuKeys.add(k);
  for (const key of cpuKeys) {
    const cells = systems.flatMap((s) => labels.map((l) => cell(reports.get(l)!.map((r) => cpuPerEvent(r.systems[s]).get(key)))));
    rows.push([key, ...cells]);
  }
  lines.push(table(header, rows), '');

  // Ratios run by run (the systems side by side in one run), then their median.
  const ratioRows: string[][] = [];
  for (const other of ['naive', 'peer', 'bridge-redis'] as const) {
    if (!systems.includes(other) || !systems.includes('bridge')) continue;
    first.summary.forEach((row, i) => {
      const cells = labels.map((l) =>
        cell(
          reports.get(l)!.map((r) => {
            const s = r.summary[i];
            const [a, b] = other === 'bridge-redis' ? [s?.values['bridge-redis'], s?.values.bridge] : [s?.values.bridge, s?.values[other]];
            return typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
          }),
        ),
      );
      if (cells.some((c) => c !== 'n/a')) ratioRows.push([`${row.figure}: ${other === 'bridge-redis' ? 'bridge-redis ÷ bridge' : `bridge ÷ ${other}`}`, ...cells]);
    });
  }
  if (ratioRows.length > 0) lines.push(table(['ratio (median of each run\'s own)', ...labels], ratioRows));
  const text = `${lines.join('\n')}\n`;
  writeFileSync(join(args.out, 'compare.md'), text);
  process.stdout.write(`${text}\nwritten to ${join(args.out, 'compare.md')}\n`);
}

function gitCommit(dir: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

main();
