import { afterEach, describe, expect, it } from 'vitest';
import { amqpUrl, metricBecomes, metricSample, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { hasRedisServer, PrivateRedis } from '../helpers/cluster.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** How long a gauge may take to follow a lost or regained connection. */
const FOLLOW_MS = 10_000;

describe.skipIf(!amqpUrl)('the connection gauges the alerts read (bridge_broker_connected, bridge_redis_connected)', () => {
  let t: TestBridge | undefined;
  let proxy: TcpProxy | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await t?.stop();
    await proxy?.close();
    await redis?.stop();
    t = proxy = redis = undefined;
  });

  it('a bridge without REDIS_URL reports the broker connected and has no Redis sample at all', async () => {
    t = await startTestBridge();
    expect(await metricSample(t.url, 'bridge_broker_connected')).toBe(1);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).not.toMatch(/^bridge_redis_connected/m);
  });

  it('the broker gauge drops to 0 while the network to RabbitMQ is cut, and returns to 1 after', async () => {
    // Only this bridge's connections go through the proxy: cutting it touches no other test's.
    const broker = new URL(amqpUrl!);
    proxy = await startTcpProxy(broker.hostname, Number(broker.port || 5672));
    const viaProxy = new URL(amqpUrl!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    t = await startTestBridge({ AMQP_URL: viaProxy.href });
    expect(await metricSample(t.url, 'bridge_broker_connected')).toBe(1);

    proxy.cut();
    await metricBecomes(t.url, 'bridge_broker_connected', 0, FOLLOW_MS);
    proxy.restore();
    await metricBecomes(t.url, 'bridge_broker_connected', 1, 30_000);
  }, 60_000);

  it.skipIf(!hasRedisServer)('the Redis gauge is 1 with a reachable Redis, 0 once that redis-server is killed, and 1 after it restarts', async () => {
    redis = await PrivateRedis.start();
    t = await startTestBridge({ REDIS_URL: redis.url });
    expect(await metricSample(t.url, 'bridge_redis_connected')).toBe(1);
    expect(await metricSample(t.url, 'bridge_broker_connected')).toBe(1);

    await redis.kill();
    await metricBecomes(t.url, 'bridge_redis_connected', 0, FOLLOW_MS);
    await redis.restart();
    await metricBecomes(t.url, 'bridge_redis_connected', 1, 30_000);
  }, 60_000);
});
