import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { now } from './clock.js';

/** CPU use of each group of processes over a window, in percent of one core (2 cores = 200 %). */
export type CpuUse = Record<string, number>;

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds a process has used so far (Linux /proc; 0 elsewhere or when gone). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), counted from field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return 0;
  }
}

/**
 * The pids of the shared services by process name (RabbitMQ's Erlang VM, Redis), read from /proc
 * only to attribute CPU: nothing is sent to them.
 */
export function findProcesses(name: string): number[] {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/** Starts a CPU window over the groups; the function it returns closes it. */
export function cpuWindow(groups: Record<string, number[]>): () => CpuUse {
  const startedAt = now();
  const start = Object.fromEntries(Object.entries(groups).map(([label, pids]) => [label, pids.map(cpuSeconds)]));
  return () => {
    const seconds = (now() - startedAt) / 1000;
    const use: CpuUse = {};
    for (const [label, pids] of Object.entries(groups)) {
      const used = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - (start[label]?.[i] ?? 0), 0);
      use[label] = Math.round((100 * used) / seconds);
    }
    return use;
  };
}

/** All cores' busy and total jiffies from /proc/stat (undefined elsewhere). */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * How busy the whole machine is over `ms`, in percent of all its cores: other work running beside
 * the benchmark skews every figure, so the report says so.
 */
export async function machineBusyPercent(ms = 1000): Promise<number | null> {
  const before = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineTicks();
  if (!before || !after || after.total === before.total) return null;
  return Math.round((100 * (after.busy - before.busy)) / (after.total - before.total));
}
