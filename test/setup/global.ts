import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { answers } from '../../bench/lib/tcp.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The broker every end-to-end test uses, or null when none could be had (outside CI only). */
    amqpUrl: string | null;
    /** The Redis of the several-instance tests and the benchmark's peer, likewise. */
    redisUrl: string | null;
  }
}

const LOCAL_BROKER = 'amqp://guest:guest@127.0.0.1:5672';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

interface Service {
  /** What the tests get: an address, its port, and how testcontainers would start it. */
  name: string;
  envUrl: string | undefined;
  localUrl: string;
  port: number;
  image: string;
  ready: string;
  url: (host: string, port: number) => string;
}

const SERVICES: Record<'amqpUrl' | 'redisUrl', Service> = {
  amqpUrl: {
    name: 'RabbitMQ (AMQP_URL)',
    envUrl: process.env.AMQP_URL,
    localUrl: LOCAL_BROKER,
    port: 5672,
    image: 'rabbitmq:3.13-alpine',
    ready: 'Server startup complete',
    url: (host, port) => `amqp://guest:guest@${host}:${port}`,
  },
  redisUrl: {
    name: 'Redis (REDIS_URL)',
    envUrl: process.env.REDIS_URL,
    localUrl: LOCAL_REDIS,
    port: 6379,
    image: 'redis:7-alpine',
    ready: 'Ready to accept connections',
    url: (host, port) => `redis://${host}:${port}`,
  },
};

/** A service from testcontainers, where a Docker engine answers. */
async function startContainer(service: Service): Promise<{ url: string; stop: () => Promise<unknown> } | undefined> {
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer(service.image)
      .withExposedPorts(service.port)
      .withWaitStrategy(Wait.forLogMessage(service.ready))
      .withStartupTimeout(120_000)
      .start();
    return { url: service.url(container.getHost(), container.getMappedPort(service.port)), stop: () => container.stop() };
  } catch (err) {
    console.warn(`testcontainers could not start ${service.name}: ${(err as Error).message}`);
    return undefined;
  }
}

/** The service's env URL, else the local one if it answers, else a container; null (outside CI) if none. */
async function find(service: Service): Promise<{ url: string | null; stop?: () => Promise<unknown> }> {
  if (service.envUrl) return { url: service.envUrl };
  if (await answers(service.localUrl, service.port)) return { url: service.localUrl };
  const container = await startContainer(service);
  if (container) return container;
  const message = `No ${service.name}: the variable is unset, nothing answers on ${service.localUrl}, and testcontainers failed.`;
  if (process.env.CI) throw new Error(`${message} End-to-end tests cannot run under CI=true.`);
  console.warn(`\n${'!'.repeat(80)}\n${message}\nTHE TESTS THAT NEED IT ARE SKIPPED.\n${'!'.repeat(80)}\n`);
  return { url: null };
}

/** Compiles the service once, for the tests that run it as a separate process. */
function build(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

export default async function setup(project: TestProject) {
  build();
  const stops: Array<() => Promise<unknown>> = [];
  for (const key of ['amqpUrl', 'redisUrl'] as const) {
    const { url, stop } = await find(SERVICES[key]);
    if (stop) stops.push(stop);
    project.provide(key, url);
  }
  return async () => {
    for (const stop of stops) await stop();
  };
}
