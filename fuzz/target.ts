import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inspectorUrlIn, memoryAfterGc } from '../bench/lib/inspector.js';

/** The compiled service, from dist/fuzz (npm run fuzz) or from the sources (the test, with the build beside them). */
const MAIN = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../src/main.js' : '../dist/src/main.js', import.meta.url));

/** A line of the bridge's output that breaks a promise, with the cases in flight when it was written. */
export interface BadLine {
  kind: 'fatal' | 'error' | 'unhandled' | 'stack' | 'stderr';
  line: string;
  cases: number[];
  at: number;
}

export interface MemorySample {
  at: number;
  rssBytes: number;
}

/** Reads VmRSS of a process from /proc (bytes), or undefined once it is gone. */
export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * The bridge under fuzz: one `node dist/src/main.js` child with its own queue and exchange. Every
 * output line is read: pino level 60 and 50 lines, unhandled rejections, uncaught exceptions, stack
 * traces and anything on stderr are kept (the first 200 of each kind, all of them counted).
 */
export class Target {
  readonly child: ChildProcess;
  readonly bad: BadLine[] = [];
  readonly counts: Record<BadLine['kind'], number> = { fatal: 0, error: 0, unhandled: 0, stack: 0, stderr: 0 };
  /** Level-50 lines by their `event` field. */
  readonly errorEvents = new Map<string, number>();
  readonly memory: MemorySample[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number; cases: number[] } | undefined;
  port = 0;
  private readonly exited: Promise<void>;
  private readonly recent: string[] = [];
  private inspectorUrl: string | undefined;
  private sampler: NodeJS.Timeout | undefined;

  constructor(
    env: Record<string, string>,
    /** The cases in flight now, for attributing a line or an exit. */
    private readonly inFlight: () => number[],
  ) {
    // The inspector (loopback, a free port) lets the settle period force a garbage collection.
    this.child = spawn(process.execPath, ['--inspect=127.0.0.1:0', MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal, at: Date.now(), cases: this.inFlight() };
        resolve();
      }),
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line, false));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.onLine(line, true));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private note(kind: BadLine['kind'], line: string): void {
    this.counts[kind]++;
    // The lines of one stack trace (or one crash report) arrive together: they are one finding.
    const last = this.bad.at(-1);
    if (last && (kind === 'stack' || kind === 'stderr') && (last.kind === 'stack' || last.kind === 'stderr') && Date.now() - last.at < 100) {
      if (last.line.length < 4_000) last.line += `\n${line}`;
      if (kind === 'stack') last.kind = 'stack';
      return;
    }
    if (this.bad.filter((b) => b.kind === kind).length < 200) this.bad.push({ kind, line: line.slice(0, 2_000), cases: this.inFlight(), at: Date.now() });
  }

  private onLine(line: string, stderr: boolean): void {
    if (!line) return;
    if (this.recent.push(line) > 50) this.recent.shift();
    let log: { level?: unknown; event?: unknown; msg?: unknown; port?: unknown } | undefined;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed && typeof parsed === 'object') log = parsed as typeof log;
    } catch {
      log = undefined;
    }
    if (log && typeof log.level === 'number') {
      if (log.event === 'bridge.started' && typeof log.port === 'number') this.port = log.port;
      const unhandled = /unhandled|uncaught/i.test(String(log.event)) || /unhandledRejection|uncaughtException/.test(line);
      if (unhandled) this.note('unhandled', line);
      if (log.level >= 60) this.note('fatal', line);
      else if (log.level >= 50) {
        this.note('error', line);
        const event = String(log.event ?? log.msg ?? '?');
        this.errorEvents.set(event, (this.errorEvents.get(event) ?? 0) + 1);
      }
      return;
    }
    const inspector = inspectorUrlIn(line);
    if (inspector) this.inspectorUrl = inspector;
    if (stderr && /^(Debugger listening on|For help, see: https:\/\/nodejs.org\/en\/docs\/inspector|Debugger attached\.|Debugger ending on|Waiting for the debugger)/.test(line)) return;
    // Not a pino line: Node's own reports (uncaught exceptions, warnings) and stack frames.
    if (/unhandledRejection|uncaughtException|UnhandledPromiseRejection/.test(line)) this.note('unhandled', line);
    else if (/^\s+at\s|^\w*Error\b|^file:\/\/|^node:/.test(line)) this.note('stack', line);
    else this.note('stderr', `${stderr ? '[stderr] ' : '[stdout] '}${line}`);
  }

  /** Waits for `bridge.started` and its port. */
  async started(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.port === 0) {
      if (!this.running || Date.now() > deadline) throw new Error(`the bridge did not start:\n${this.recent.join('\n')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Samples RSS every `everyMs` until stop(). */
  sampleMemory(everyMs: number): void {
    const take = async () => {
      const rss = await rssOf(this.pid);
      if (rss !== undefined) this.memory.push({ at: Date.now(), rssBytes: rss });
    };
    void take();
    this.sampler = setInterval(() => void take(), everyMs);
  }

  /**
   * Forces two full garbage collections in the bridge through its inspector and returns its heap in
   * use afterwards (bytes), so that memory is compared after a settle, not mid-collection.
   */
  async forceGc(): Promise<number | undefined> {
    if (!this.running) return undefined;
    return (await memoryAfterGc(this.inspectorUrl))?.heapUsed;
  }

  /** The last lines written, for a report on a crash. */
  tail(): string[] {
    return [...this.recent];
  }

  /** SIGTERM, then the exit code (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.sampler) clearInterval(this.sampler);
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return this.exit?.code ?? null;
  }
}
