import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { sleep } from './clock.js';

/** The last lines a child printed, for the error message when it dies. */
export class OutputTail {
  private readonly lines: string[] = [];
  constructor(private readonly limit = 40) {}

  attach(child: ChildProcess): this {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (!line) return;
        this.lines.push(line);
        if (this.lines.length > this.limit) this.lines.shift();
      });
    }
    return this;
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/**
 * Every process the runner started, so that an error, a signal or the watchdog ends them all (by
 * their pid, never by name). Each child also exits on its own when its IPC channel closes.
 */
export class Children {
  private readonly live = new Set<ChildProcess>();
  readonly pids: number[] = [];

  track(child: ChildProcess): ChildProcess {
    this.live.add(child);
    if (child.pid !== undefined) this.pids.push(child.pid);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  /** A Node module as a child with an IPC channel; stdout and stderr are kept in `tail`. */
  fork(modulePath: string, env: Record<string, string> = {}, tail = new OutputTail()): { child: ChildProcess; tail: OutputTail } {
    const child = fork(modulePath, [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    tail.attach(child);
    return { child: this.track(child), tail };
  }

  /** `node [nodeArgs] <script>` with exactly `env` (plus PATH), no IPC. */
  spawnNode(
    script: string,
    env: Record<string, string>,
    tail = new OutputTail(),
    nodeArgs: string[] = [],
  ): { child: ChildProcess; tail: OutputTail } {
    const child = spawn(process.execPath, [...nodeArgs, script], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tail.attach(child);
    return { child: this.track(child), tail };
  }

  /**
   * Waits up to `graceMs` for every child to exit (load clients leave when their IPC channel
   * closes), SIGKILLs the rest, and waits for those too: a child left unreaped when the runner exits
   * would linger as a zombie.
   */
  async stopAll(graceMs = 3000): Promise<void> {
    const exits = [...this.live].map((child) => new Promise((resolve) => child.once('exit', resolve)));
    const all = Promise.all(exits);
    if ((await Promise.race([all.then(() => 'done'), sleep(graceMs)])) === 'done') return;
    for (const child of this.live) child.kill('SIGKILL');
    await Promise.race([all, sleep(5000)]);
  }
}

/** Sends `signal`, waits up to `timeoutMs` for the exit, then SIGKILLs. Resolves with the exit code. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const result = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (result !== 'timeout') return result;
  child.kill('SIGKILL');
  return exited;
}

/** Resident memory of a process, in bytes (Linux /proc; `ps` elsewhere). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux, or the process is gone
  }
  const out = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout;
  return Number(out.trim()) * 1024;
}

/** The soft limit on open files that children inherit (each socket holds one). */
export function openFileLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    if (soft) return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    // not Linux
  }
  return Number.POSITIVE_INFINITY;
}

/** A TCP port that was free a moment ago (for the bridge, which logs its port only at `info`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
