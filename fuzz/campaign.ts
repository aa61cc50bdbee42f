import { Rng } from '../chaos/rng.js';
import { FuzzAmqp } from './amqp-side.js';
import { checkDeadLetters, checkDelivery, checkHealth, type DeadLetterSummary } from './checks.js';
import { AmqpLedger } from './ledger.js';
import { summarizeMemory, type MemoryPoint, type MemorySummary } from './memory.js';
import { formatReport } from './report.js';
import { ALL_SURFACES, pickSurface } from './surfaces/index.js';
import { SURFACES, type FuzzContext, type SurfaceName } from './surfaces/types.js';
import { rssOf, Target, type BadLine } from './target.js';
import { FUZZ_SECRET } from './tokens.js';

export interface FuzzOptions {
  seed: number;
  /** How long cases are sent for (the settle period and the final checks come after). */
  durationMs: number;
  amqpUrl: string;
  /** Cases in flight at once. Default 4. */
  concurrency?: number;
  /** Quiet time after the last case, before the end memory sample. Default 10 s. */
  settleMs?: number;
  /** The RSS growth allowed between the end of the warm-up and the end of the settle period. Default 32 MB. */
  memoryBoundBytes?: number;
  /** Run only these case numbers (to reproduce a finding), instead of cases until the time is up. */
  onlyCases?: number[];
  log?: (line: string) => void;
}

/** One broken promise, with what is needed to reproduce it: the seed and the case number. */
export interface Violation {
  check: string;
  detail: string;
  seed: number;
  caseNo?: number;
  surface?: SurfaceName;
  input?: string;
}

export interface FuzzReport {
  ok: boolean;
  seed: number;
  durationMs: number;
  cases: number;
  bySurface: Record<SurfaceName, number>;
  violations: Violation[];
  notes: string[];
  memory: MemorySummary;
  output: { counts: Target['counts']; errorEvents: Record<string, number>; samples: BadLine[] };
  deadLetters: DeadLetterSummary | undefined;
  exit: Target['exit'];
  shutdownCode: number | null | undefined;
}

/** The generator of one case: the same (seed, case number) always draws the same case. */
export const caseRng = (seed: number, caseNo: number) => new Rng(seed).fork(caseNo + 1);

const CASE_TIMEOUT_MS = 20_000;

/**
 * A seeded, time-bounded fuzz run against one real bridge process: cases drawn over every surface
 * until the time is up, a settle period, then the checks (process alive, no fatal/error/unhandled
 * output, memory flat, health, delivery, dead letters) and a graceful stop.
 */
export async function runFuzz(options: FuzzOptions): Promise<{ report: FuzzReport; text: string }> {
  const { seed } = options;
  const log = options.log ?? (() => undefined);
  const name = `fuzz.${seed}.${process.pid}.${Date.now().toString(36)}`;
  const exchange = `${name}.events`;
  const amqp = new FuzzAmqp(options.amqpUrl, exchange);
  const ledger = new AmqpLedger();
  const inFlight = new Map<number, SurfaceName>();
  /** When recent cases ended (the last 64). */
  const finished = new Map<number, number>();
  const inputs = new Map<number, { surface: SurfaceName; input: string }>();
  const violations: Violation[] = [];
  const bySurface = Object.fromEntries(SURFACES.map((s) => [s, 0])) as Record<SurfaceName, number>;
  let cases = 0;
  let shutdownCode: number | null | undefined;
  let crashed = false;
  let deadLetters: DeadLetterSummary | undefined;
  const notes: string[] = [];
  const caseNotes = new Map<string, number>();

  await amqp.start();
  const target = new Target(
    {
      NODE_ENV: 'test',
      PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET: FUZZ_SECRET,
      AMQP_URL: options.amqpUrl,
      AMQP_QUEUE: name,
      AMQP_EXCHANGE: exchange,
      // One address sends every handshake here: the per-address budget would refuse most of them.
      HANDSHAKES_PER_ADDRESS: '1000000',
    },
    // A line is written a moment after the packet that caused it: the cases just finished count too.
    () => [...inFlight.keys(), ...[...finished].filter(([, at]) => Date.now() - at < 100).map(([c]) => c)].sort((a, b) => a - b).slice(-16),
  );
  const started = Date.now();
  let warm: MemoryPoint | undefined;
  let end: MemoryPoint | undefined;
  /** A forced collection, then RSS: a point of comparison free of garbage not yet collected. */
  const settledPoint = async (): Promise<MemoryPoint | undefined> => {
    const heapBytes = await target.forceGc();
    await new Promise((r) => setTimeout(r, 500));
    const rssBytes = await rssOf(target.pid);
    return rssBytes === undefined ? undefined : { rssBytes, heapBytes };
  };
  try {
    await target.started();
    target.sampleMemory(500);
    const ctx: FuzzContext = { url: target.url, port: target.port, seed, amqp, ledger };
    log(`bridge pid ${target.pid} on ${target.url}, queue ${name}`);

    const runCase = async (caseNo: number) => {
      const rng = caseRng(seed, caseNo);
      const surface = pickSurface(rng, ALL_SURFACES);
      inFlight.set(caseNo, surface.name);
      bySurface[surface.name]++;
      cases++;
      let timer: NodeJS.Timeout | undefined;
      try {
        const result = await Promise.race([
          surface.run(ctx, rng, caseNo),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`case did not end within ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS))),
        ]);
        if (inputs.size > 5_000) inputs.delete(inputs.keys().next().value!);
        inputs.set(caseNo, { surface: surface.name, input: result.input });
        for (const note of result.notes ?? []) caseNotes.set(note, (caseNotes.get(note) ?? 0) + 1);
        // Once the bridge is gone every case fails for that reason alone: the crash is the finding.
        if (!target.running) return;
        for (const detail of result.problems) violations.push({ check: surface.name, detail, seed, caseNo, surface: surface.name, input: result.input });
      } catch (err) {
        if (!target.running) return;
        const where = (err as Error).stack?.split('\n').find((l) => l.includes('/fuzz/'))?.trim() ?? '';
        violations.push({ check: 'case', detail: `${(err as Error).message} ${where}`, seed, caseNo, surface: surface.name });
      } finally {
        clearTimeout(timer);
        inFlight.delete(caseNo);
        finished.set(caseNo, Date.now());
        if (finished.size > 64) finished.delete(finished.keys().next().value!);
      }
    };

    const deadline = started + options.durationMs;
    const warmTimer = setTimeout(() => void settledPoint().then((p) => (warm = p)), Math.min(15_000, options.durationMs * 0.25));
    if (options.onlyCases) {
      for (const caseNo of options.onlyCases) await runCase(caseNo);
    } else {
      let next = 0;
      let lastLog = Date.now();
      const worker = async () => {
        while (Date.now() < deadline && target.running) {
          await runCase(next++);
          if (Date.now() - lastLog > 15_000) {
            lastLog = Date.now();
            log(`${cases} cases, ${violations.length} violations, rss ${((target.memory.at(-1)?.rssBytes ?? 0) / 2 ** 20).toFixed(0)} MB`);
          }
        }
      };
      await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
    }
    clearTimeout(warmTimer);
    log(`${cases} cases sent; settling`);
    await new Promise((r) => setTimeout(r, options.settleMs ?? 10_000));
    if (target.running) end = await settledPoint();

    if (target.running) {
      const final = [...(await checkHealth(target.url)), ...(await checkDelivery(target.url, amqp, seed))];
      const dead = await checkDeadLetters(amqp, ledger, name);
      deadLetters = dead.summary;
      notes.push(...dead.summary.notes);
      for (const f of [...final, ...dead.failures]) {
        const input = f.caseNo === undefined ? undefined : inputs.get(f.caseNo);
        violations.push({ check: f.check, detail: f.detail, seed, ...(f.caseNo === undefined ? {} : { caseNo: f.caseNo }), ...(input ? { surface: input.surface, input: input.input } : {}) });
      }
    }
  } finally {
    crashed = !target.running;
    shutdownCode = await target.stop();
    if (!crashed && shutdownCode !== 0) violations.push({ check: 'shutdown', detail: `SIGTERM ended the bridge with exit code ${shutdownCode}`, seed });
    await amqp.cleanup([name, `${name}.dead-letter`]);
    await amqp.close();
  }

  const exit = target.exit;
  if (crashed && exit) {
    const tail = target.tail().slice(-8).join('\n    ');
    // The crash's own report names the cases in flight when it was written, closer than the exit's.
    const suspects = target.bad.find((b) => b.kind === 'stack' || b.kind === 'unhandled')?.cases ?? exit.cases;
    violations.push({ check: 'crash', detail: `the bridge exited (code ${exit.code}, signal ${exit.signal ?? '-'}); cases in flight: ${suspects.join(', ') || '-'} (replay each with --case); last lines:\n    ${tail}`, seed, ...(suspects.length === 1 ? { caseNo: suspects[0]! } : {}) });
  }
  const memory = summarizeMemory(target.memory.filter((s) => !exit || s.at < exit.at), warm, end, options.memoryBoundBytes ?? 32 * 2 ** 20);
  if (!memory.ok) violations.push({ check: 'memory', detail: `RSS grew ${(memory.growthBytes / 2 ** 20).toFixed(1)} MB after the warm-up (bound ${(memory.boundBytes / 2 ** 20).toFixed(0)} MB)`, seed });
  for (const line of target.bad) {
    const cases = line.cases.map((c) => `${c}${inputs.get(c) ? ` (${inputs.get(c)!.surface})` : ''}`).join(', ');
    const first = line.cases.length === 1 ? inputs.get(line.cases[0]!) : undefined;
    violations.push({ check: `output:${line.kind}`, detail: `${line.line.slice(0, 600)}${cases ? ` [in flight: ${cases}]` : ''}`, seed, ...(line.cases.length === 1 ? { caseNo: line.cases[0]! } : {}), ...(first ? { surface: first.surface, input: first.input } : {}) });
  }
  for (const [note, count] of caseNotes) notes.push(`${note} (×${count})`);
  const report: FuzzReport = {
    ok: violations.length === 0,
    seed,
    durationMs: Date.now() - started,
    cases,
    bySurface,
    violations,
    notes,
    memory,
    output: { counts: target.counts, errorEvents: Object.fromEntries(target.errorEvents), samples: target.bad.slice(0, 20) },
    deadLetters,
    exit,
    shutdownCode,
  };
  return { report, text: formatReport(report) };
}
