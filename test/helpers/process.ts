import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TestAmqp, uniqueName } from './amqp.js';
import { TEST_SECRET } from './tokens.js';

const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** Every stdout and stderr line so far. */
  lines: string[];
  /** Parsed pino lines so far (stdout lines that are JSON). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the first log line that matches, or rejects after `timeoutMs`. */
  waitForLog(match: (log: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code, or rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | null>;
}

/** Runs the compiled service (`node dist/src/main.js`) as its own process with the given environment. */
export function runService(env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  // 'close', not 'exit': it comes after stdout and stderr are read to their end, so no line is missed.
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => line && lines.push(line));
  }
  const logs = () =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return {
    child,
    lines,
    logs,
    async waitForLog(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = logs().find(match);
        if (found) return found;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`log line not seen; output:\n${lines.join('\n')}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exited(timeoutMs = 15_000) {
      return Promise.race([
        exit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('process did not exit')), timeoutMs)),
      ]);
    },
  };
}

/** A service process on port 0 with a queue and exchange of its own, and its URL once it started. */
export interface OwnService {
  service: ServiceProcess;
  url: string;
  /** Kills the process and deletes its queues and exchange. */
  stop(): Promise<void>;
}

/** Starts the compiled service against the broker at `amqpUrl`, under a unique queue named after `prefix`. */
export async function startOwnService(amqpUrl: string, prefix: string, env: Record<string, string> = {}): Promise<OwnService> {
  const name = uniqueName(prefix);
  const amqp = new TestAmqp(amqpUrl);
  const service = runService({
    NODE_ENV: 'test',
    PORT: '0',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'info',
    AMQP_URL: amqpUrl,
    AMQP_QUEUE: name,
    AMQP_EXCHANGE: `${name}.events`,
    ...env,
  });
  const stop = async () => {
    service.child.kill('SIGKILL');
    await amqp.cleanup([name, `${name}.dead-letter`], [`${name}.events`]);
    await amqp.close();
  };
  try {
    const started = await service.waitForLog((l) => l.event === 'bridge.started');
    return { service, url: `http://127.0.0.1:${started.port as number}`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
