import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { amqpUrl, metricBecomes, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { hasRedisServer, PrivateRedis } from '../helpers/cluster.js';

/** Well under SHUTDOWN_TIMEOUT_MS (10 s by default), past which the process exits 1 instead of 0. */
const CLOSE_WITHIN_MS = 5_000;

/** Promises rejected with nobody to handle them: in the service, `process.unhandled_rejection` error lines. */
const unhandled: string[] = [];
const noteUnhandled = (reason: unknown) => unhandled.push(String(reason));

/** How long `bridge.close()` took, or Infinity when it had not finished after CLOSE_WITHIN_MS. */
async function closeTime(t: TestBridge): Promise<number> {
  const started = Date.now();
  const finished = await Promise.race([
    t.bridge.close().then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), CLOSE_WITHIN_MS)),
  ]);
  const took = Date.now() - started;
  // Rejections are reported after the microtasks of their turn: give them a few turns.
  await new Promise((r) => setTimeout(r, 100));
  return finished ? took : Infinity;
}

describe.skipIf(!amqpUrl || !hasRedisServer)('a graceful stop while Redis is away', () => {
  let t: TestBridge | undefined;
  let redis: PrivateRedis | undefined;
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', noteUnhandled);
  });
  afterEach(async () => {
    process.off('unhandledRejection', noteUnhandled);
    // With Redis back, a close that was stuck may finish; its queues and exchange are deleted either way.
    if (redis && (await redis.cli('PING').catch(() => 'down')) !== 'PONG') await redis.restart();
    if (t) {
      await Promise.race([t.bridge.close(), new Promise((r) => setTimeout(r, 10_000))]);
      await t.amqp.cleanup([t.config.AMQP_QUEUE, `${t.config.AMQP_QUEUE}.dead-letter`], [t.config.AMQP_EXCHANGE]);
      await t.amqp.close();
    }
    await redis?.stop();
    t = redis = undefined;
  });

  it('finishes within seconds while Redis is down, leaving no promise rejected unhandled', async () => {
    redis = await PrivateRedis.start();
    t = await startTestBridge({ REDIS_URL: redis.url });
    await redis.kill();
    await metricBecomes(t.url, 'bridge_redis_connected', 0);
    expect(await closeTime(t)).toBeLessThan(CLOSE_WITHIN_MS);
    expect(unhandled).toEqual([]);
  }, 40_000);

  it('finishes within seconds while its Redis clients are reconnecting', async () => {
    redis = await PrivateRedis.start();
    t = await startTestBridge({ REDIS_URL: redis.url });
    await redis.kill();
    await metricBecomes(t.url, 'bridge_redis_connected', 0);
    await redis.restart();
    await new Promise((r) => setTimeout(r, 200));
    expect(await closeTime(t)).toBeLessThan(CLOSE_WITHIN_MS);
    expect(unhandled).toEqual([]);
  }, 40_000);
});
