import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { answers } from '../../bench/lib/tcp.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The broker every end-to-end test uses, or null when none could be had (outside CI only). */
    amqpUrl: string | null;
  }
}

const LOCAL_BROKER = 'amqp://guest:guest@127.0.0.1:5672';

/** A broker from testcontainers, where a Docker engine answers. */
async function startContainer(): Promise<{ url: string; stop: () => Promise<unknown> } | undefined> {
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('rabbitmq:3.13-alpine')
      .withExposedPorts(5672)
      .withWaitStrategy(Wait.forLogMessage('Server startup complete'))
      .withStartupTimeout(120_000)
      .start();
    return {
      url: `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`,
      stop: () => container.stop(),
    };
  } catch (err) {
    console.warn(`testcontainers could not start RabbitMQ: ${(err as Error).message}`);
    return undefined;
  }
}

/** Compiles the service once, for the tests that run it as a separate process. */
function build(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

export default async function setup(project: TestProject) {
  build();
  let url: string | null = process.env.AMQP_URL ?? null;
  let stop: (() => Promise<unknown>) | undefined;
  if (!url && (await answers(LOCAL_BROKER, 5672))) url = LOCAL_BROKER;
  if (!url) {
    const container = await startContainer();
    url = container?.url ?? null;
    stop = container?.stop;
  }
  if (!url) {
    const message = 'No RabbitMQ: AMQP_URL is unset, nothing answers on 127.0.0.1:5672, and testcontainers failed.';
    if (process.env.CI) throw new Error(`${message} End-to-end tests cannot run under CI=true.`);
    console.warn(`\n${'!'.repeat(80)}\n${message}\nEND-TO-END TESTS ARE SKIPPED.\n${'!'.repeat(80)}\n`);
  }
  project.provide('amqpUrl', url);
  return async () => {
    await stop?.();
  };
}
