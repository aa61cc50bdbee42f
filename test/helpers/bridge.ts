import { inject } from 'vitest';
import { createBridge, type Bridge, type BridgeTuning } from '../../src/bridge.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { TestAmqp, uniqueName } from './amqp.js';
import { TEST_SECRET } from './tokens.js';

/** The broker the global set-up found, or null (then end-to-end suites skip; never under CI). */
export const amqpUrl = inject('amqpUrl');

/** The Redis the global set-up found, likewise. */
export const redisUrl = inject('redisUrl');

export interface TestBridge {
  bridge: Bridge;
  config: Config;
  url: string;
  amqp: TestAmqp;
  /** Closes the bridge and deletes its queues and exchange. */
  stop(): Promise<void>;
}

/**
 * Starts a bridge on port 0 with its own exchange and queues on the real broker; `tuning` sets what
 * has no env variable (tighter or looser limits, a short JWKS cooldown).
 */
export async function startTestBridge(env: Record<string, string> = {}, tuning: BridgeTuning = {}): Promise<TestBridge> {
  if (!amqpUrl) throw new Error('no broker');
  const name = uniqueName('bridge');
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    AMQP_URL: amqpUrl,
    AMQP_EXCHANGE: `${name}.events`,
    AMQP_QUEUE: name,
    JWT_SECRET: TEST_SECRET,
    ...env,
  });
  // Connected before the bridge starts, so that a test can publish the moment start() resolves.
  const amqp = new TestAmqp(amqpUrl);
  await amqp.connection.onConnect();
  const bridge = createBridge(config, createLogger(config.LOG_LEVEL), tuning);
  await bridge.start();
  return {
    bridge,
    config,
    url: `http://127.0.0.1:${bridge.port()}`,
    amqp,
    async stop() {
      await bridge.close();
      await amqp.cleanup([config.AMQP_QUEUE, `${config.AMQP_QUEUE}.dead-letter`], [config.AMQP_EXCHANGE]);
      await amqp.close();
    },
  };
}

/** The value of one sample of a bridge's `/metrics`, named as in the text (`name{label="v"}`); undefined when absent. */
export async function metricSample(url: string, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/** Polls a bridge's `/metrics` until `sample` reads `value`; fails naming the last reading after `timeoutMs`. */
export async function metricBecomes(url: string, sample: string, value: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  while ((last = await metricSample(url, sample)) !== value) {
    if (Date.now() > deadline) throw new Error(`${sample} stayed ${last} for ${timeoutMs} ms, expected ${value}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
