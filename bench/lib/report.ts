import type { BroadcastResult } from '../scenarios/broadcast.js';
import type { BurstResult } from '../scenarios/burst.js';
import type { DrainResult } from '../scenarios/drain.js';
import type { FanoutResult, FanoutStep } from '../scenarios/fanout.js';
import type { IdleResult } from '../scenarios/idle.js';
import { SYSTEM_NAMES, type SystemName } from '../systems/types.js';
import type { CpuUse } from './cpu.js';
import type { Options } from './options.js';

/** Everything measured on one system; a missing scenario was not run, `drain: null` is n/a. */
export interface SystemResult {
  error?: string;
  startupMs?: number;
  idle?: IdleResult;
  fanout?: FanoutResult;
  broadcast?: BroadcastResult;
  burst?: BurstResult;
  drain?: DrainResult | null;
}

export interface RunMeta {
  runId: string;
  date: string;
  commit: string;
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  openFileLimit: number;
  /** Percent of all cores busy during the second before the run (other work skews every figure). */
  machineBusyBefore: number | null;
  durationSeconds: number;
  /** Every process the runner started (the smoke test checks that none is left). */
  processes: number[];
  /** Queues and exchanges the run declared (and deleted at its end). */
  declared: { queues: string[]; exchanges: string[] };
  /** Redis key prefixes the run's systems wrote under (bridge-redis), and how many keys were deleted. */
  redisKeys?: Array<{ prefix: string; deleted: number }>;
  notes: string[];
  options: Options;
}

export interface SummaryRow {
  figure: string;
  unit: string;
  better: 'higher' | 'lower';
  values: Record<SystemName, number | null>;
  /** bridge ÷ the other system, for the same figure. */
  ratios: Record<Other, number | null>;
  /** bridge-redis ÷ bridge, for the same figure: what keeping the state in Redis costs. */
  redisRatio: number | null;
}

export interface BenchReport {
  meta: RunMeta;
  systems: Partial<Record<SystemName, SystemResult>>;
  summary: SummaryRow[];
}

const OTHERS = ['naive', 'peer', 'ceiling'] as const;
type Other = (typeof OTHERS)[number];

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b !== 0 ? a / b : null;
}

/** The step of a system's fan-out at `rate`, if it ran. */
const stepAt = (r: SystemResult | undefined, rate: number | undefined): FanoutStep | undefined =>
  r?.fanout?.steps.find((s) => s.rate === rate);

/** The headline figures, one row each, with bridge ÷ naive / peer / ceiling and bridge-redis ÷ bridge. */
export function summarize(systems: BenchReport['systems'], options: Options): SummaryRow[] {
  const moderate = options.rates[0];
  const maxStep = (r?: SystemResult) => stepAt(r, r?.fanout?.maxRate ?? undefined);
  const rows: Array<[string, string, SummaryRow['better'], (r?: SystemResult) => number | null | undefined]> = [
    ['fan-out: highest rate with p99 < ' + options.p99LimitMs + ' ms', 'events/s', 'higher', (r) => r?.fanout?.maxRate],
    ['fan-out: deliveries/s at that rate', 'deliveries/s', 'higher', (r) => maxStep(r)?.deliveriesPerSec],
    [`fan-out: p50 at ${moderate} events/s`, 'ms', 'lower', (r) => stepAt(r, moderate)?.p50Ms],
    [`fan-out: p99 at ${moderate} events/s`, 'ms', 'lower', (r) => stepAt(r, moderate)?.p99Ms],
    [`fan-out: max at ${moderate} events/s`, 'ms', 'lower', (r) => stepAt(r, moderate)?.maxMs],
    [`broadcast: deliveries/s (burst of ${options.broadcastBurst})`, 'deliveries/s', 'higher', (r) => r?.broadcast?.burst.deliveriesPerSec],
    [`broadcast: p50 at ${options.broadcastRate}/s`, 'ms', 'lower', (r) => r?.broadcast?.latency.p50Ms],
    [`broadcast: p99 at ${options.broadcastRate}/s`, 'ms', 'lower', (r) => r?.broadcast?.latency.p99Ms],
    [`burst: deliveries/s (${options.burstEvents} events at once)`, 'deliveries/s', 'higher', (r) => r?.burst?.deliveriesPerSec],
    [`burst: p99 (${options.burstEvents} events at once)`, 'ms', 'lower', (r) => r?.burst?.p99Ms],
    ['drain: events/s until empty', 'events/s', 'higher', (r) => r?.drain?.eventsPerSec],
    ['idle: memory per connection', 'KB', 'lower', (r) => (r?.idle ? r.idle.bytesPerConnection / 1024 : null)],
    ['idle: connect rate', 'connections/s', 'higher', (r) => r?.idle?.connectPerSec],
  ];
  return rows.map(([figure, unit, better, pick]) => {
    const values = Object.fromEntries(SYSTEM_NAMES.map((s) => [s, finite(pick(systems[s]))])) as SummaryRow['values'];
    const ratios = Object.fromEntries(OTHERS.map((o) => [o, ratio(values.bridge, values[o])])) as SummaryRow['ratios'];
    return { figure, unit, better, values, ratios, redisRatio: ratio(values['bridge-redis'], values.bridge) };
  });
}

function num(v: number | null | undefined, digits?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

const times = (v: number | null) => (v === null ? 'n/a' : `${num(v, 2)}×`);

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** A system's cell for a figure: its value, or why there is none. */
function cell(report: BenchReport, system: SystemName, row: SummaryRow): string {
  const result = report.systems[system];
  if (!result) return '—';
  if (row.values[system] !== null) {
    const floor = row.figure.startsWith('fan-out: highest') && result.fanout?.maxRateIsFloor ? '≥ ' : '';
    return floor + num(row.values[system]);
  }
  return result.error ? 'error' : 'n/a';
}

function stepCell(step: FanoutStep | undefined): string {
  if (!step) return '—';
  const mark = step.ok ? '' : ' ✗';
  return `${num(step.deliveriesPerSec, 0)} · ${num(step.p50Ms)} / ${num(step.p99Ms)} / ${num(step.maxMs)}${mark}`;
}

/** CPU rows of one system: idle connects, its highest held fan-out step, the step that broke, broadcast and drain. */
function cpuRowsOf(system: SystemName, r: SystemResult | undefined): string[][] {
  const windows: Array<[string, CpuUse | undefined]> = [];
  if (r?.idle) windows.push(['idle: connecting', r.idle.cpu]);
  const steps = r?.fanout?.steps ?? [];
  const held = steps.filter((s) => s.ok).at(-1);
  const broke = steps.find((s) => !s.ok);
  if (held) windows.push([`fan-out ${num(held.rate, 0)}/s (held)`, held.cpu]);
  if (broke) windows.push([`fan-out ${num(broke.rate, 0)}/s (broke)`, broke.cpu]);
  if (r?.broadcast) windows.push([`broadcast burst`, r.broadcast.burst.cpu]);
  if (r?.burst) windows.push([`trip burst`, r.burst.cpu]);
  if (r?.drain) windows.push(['drain', r.drain.cpu]);
  return windows.map(([label, cpu]) => [
    system,
    label,
    ...['server', 'runner', 'clients', 'rabbitmq', 'redis'].map((k) => (cpu?.[k] === undefined ? '—' : `${cpu[k]} %`)),
  ]);
}

/** Both bridges ran: the bridge-redis ÷ bridge column is shown. */
const withRedis = (present: SystemName[]) => present.includes('bridge') && present.includes('bridge-redis');

/** The headline table: one row per figure, a column per system, then the three ratios (and bridge-redis ÷ bridge). */
function summaryTable(report: BenchReport, present: SystemName[]): string {
  const others = OTHERS.filter((s) => present.includes(s));
  const redis = withRedis(present);
  return table(
    ['figure', 'unit', 'better', ...present, ...others.map((s) => `bridge ÷ ${s}`), ...(redis ? ['bridge-redis ÷ bridge'] : [])],
    report.summary.map((row) => [
      row.figure,
      row.unit,
      row.better,
      ...present.map((s) => cell(report, s, row)),
      ...others.map((s) => times(row.ratios[s])),
      ...(redis ? [times(row.redisRatio ?? null)] : []),
    ]),
  );
}

/** A difference in ms with its sign. */
const plusMs = (a: number, b: number) => `${a - b >= 0 ? '+' : '−'}${num(Math.abs(a - b))}`;

/** Every fan-out step of every system, by rate, with bridge ÷ other for deliveries/s and p99. */
function stepsSection(report: BenchReport, present: SystemName[]): string[] {
  const o = report.meta.options;
  const rates = [...new Set(present.flatMap((s) => report.systems[s]?.fanout?.steps.map((step) => step.rate) ?? []))];
  if (rates.length === 0) return [];
  const others = OTHERS.filter((s) => present.includes(s) && present.includes('bridge'));
  const redis = withRedis(present);
  const rows = rates
    .sort((a, b) => a - b)
    .map((rate) => {
      const bridge = stepAt(report.systems.bridge, rate);
      const bridgeRedis = stepAt(report.systems['bridge-redis'], rate);
      return [
        num(rate, 0),
        ...present.map((s) => stepCell(stepAt(report.systems[s], rate))),
        ...others.map((s) => {
          const other = stepAt(report.systems[s], rate);
          if (!bridge || !other) return '—';
          return `${times(ratio(bridge.deliveriesPerSec, other.deliveriesPerSec))} · ${times(ratio(bridge.p99Ms, other.p99Ms))}`;
        }),
        ...(redis
          ? [
              bridge && bridgeRedis
                ? `${times(ratio(bridgeRedis.deliveriesPerSec, bridge.deliveriesPerSec))} · ${times(ratio(bridgeRedis.p50Ms, bridge.p50Ms))} ` +
                  `(${plusMs(bridgeRedis.p50Ms, bridge.p50Ms)} ms) · ${times(ratio(bridgeRedis.p99Ms, bridge.p99Ms))} (${plusMs(bridgeRedis.p99Ms, bridge.p99Ms)} ms)`
                : '—',
            ]
          : []),
      ];
    });
  return [
    `Fan-out steps: ${num(o.clients, 0)} clients in ${num(o.trips, 0)} trips, ${o.stepSeconds} s per step; each cell is ` +
      'deliveries/s · p50 / p99 / max ms (✗: the step broke); ratios are bridge ÷ other for deliveries/s and p99' +
      (redis ? '; bridge-redis ÷ bridge for deliveries/s, p50 and p99, with the difference in ms.' : '.'),
    '',
    table(
      ['events/s', ...present, ...others.map((s) => `÷ ${s} (dlv/s · p99)`), ...(redis ? ['bridge-redis ÷ bridge (dlv/s · p50 · p99)'] : [])],
      rows,
    ),
  ];
}

function cpuSection(report: BenchReport, present: SystemName[]): string[] {
  const rows = present.flatMap((s) => cpuRowsOf(s, report.systems[s]));
  if (rows.length === 0) return [];
  const { cpus } = report.meta;
  return [
    `CPU use in percent of one core (this machine has ${cpus} cores, so ${cpus * 100} % is all of it):`,
    '',
    table(['system', 'window', 'server', 'runner (publisher)', 'load clients', 'RabbitMQ', 'Redis'], rows),
  ];
}

/** The run's notes, each system's error, and every socket that failed to connect. */
function notesOf(report: BenchReport, present: SystemName[]): string[] {
  const notes = [...report.meta.notes];
  if (present.includes('bridge-redis')) {
    notes.push(
      'bridge-redis is the bridge with REDIS_URL: Socket.IO Redis adapter, and seq, history, de-duplication, membership, locks ' +
        'and rate limits in Redis; bridge-redis ÷ bridge is what that costs.',
    );
  }
  for (const { prefix, deleted } of report.meta.redisKeys ?? []) notes.push(`Redis keys ${prefix}* deleted at the end: ${deleted}.`);
  for (const s of present) {
    const r = report.systems[s];
    if (r?.error) notes.push(`${s}: ${r.error.split('\n')[0]}`);
    const connects = [
      ['idle', r?.idle && { failed: r.idle.failed, errors: r.idle.errors }],
      ['fan-out', r?.fanout?.connect],
      ['broadcast', r?.broadcast?.connect],
      ['burst', r?.burst?.connect],
    ] as const;
    for (const [name, connect] of connects) {
      if (connect?.failed) notes.push(`${s} ${name}: ${connect.failed} sockets failed to connect: ${JSON.stringify(connect.errors)}`);
    }
  }
  return notes.map((note) => `- ${note}`);
}

/** The whole report as Markdown (also what the terminal shows). */
export function toMarkdown(report: BenchReport): string {
  const { meta } = report;
  const o = meta.options;
  const present = SYSTEM_NAMES.filter((s) => report.systems[s]);
  const sections = [
    [`## Benchmark ${meta.date.slice(0, 10)} (commit ${meta.commit})`],
    [
      `${meta.cpus} CPUs (${meta.cpuModel}), Node ${meta.node}, ${meta.platform}, open-file limit ${meta.openFileLimit}; ` +
        `run took ${Math.round(meta.durationSeconds)} s with ${o.clientProcesses} load-client processes.`,
    ],
    [summaryTable(report, present)],
    stepsSection(report, present),
    cpuSection(report, present),
    [
      `Broadcast: ${num(o.broadcastClients, 0)} clients; latency at ${o.broadcastRate} notification.broadcast/s for ` +
        `${o.broadcastSeconds} s, deliveries/s from a burst of ${o.broadcastBurst} events sent at once. ` +
        `Burst: ${num(o.burstClients, 0)} clients in ${num(o.burstTrips, 0)} trips, ${num(o.burstEvents, 0)} trip events published at once; deliveries/s until the last arrives. ` +
        `Drain: ${num(o.drainEvents, 0)} trip events queued while the system is down (n/a: peer and ceiling have no queue). ` +
        `Idle: ${num(o.idle, 0)} authenticated sockets; memory is the server's RSS after minus before, ÷ sockets.`,
    ],
    notesOf(report, present),
  ];
  return `${sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n')}\n`;
}
