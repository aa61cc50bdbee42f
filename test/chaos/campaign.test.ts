import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../chaos/campaign.js';
import { FAULT_KINDS } from '../../chaos/faults.js';
import { amqpUrl, redisUrl } from '../helpers/bridge.js';
import { hasRedisServer } from '../helpers/cluster.js';

/**
 * The short seeded campaign of `npm test`: every fault kind once, against three bridge processes,
 * RabbitMQ and a private Redis, and the checker over what every client recorded. Longer ones:
 * `npm run chaos -- --seed=S --minutes=M`.
 */
describe.skipIf(!amqpUrl || !redisUrl || !hasRedisServer)('a seeded fault campaign', () => {
  it('keeps every promise through every kind of fault (seed 7)', async () => {
    const { history, report, text } = await runCampaign({
      seed: 7,
      amqpUrl: amqpUrl!,
      faultPhaseMs: 75_000,
      faultSpacingMs: 8_000,
      typedClients: 6,
      rawClients: 6,
      trips: 8,
      rate: 100,
      burst: { size: 4_000, everyMs: 25_000 },
      outDir: 'chaos/results',
    });
    if (!report.ok) console.log(text);
    expect(new Set(history.faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(report.stats.published).toBeGreaterThan(5_000);
    expect(report.counts.typedOrder.checked).toBeGreaterThan(1_000);
    expect(report.counts.rawOrder.checked).toBeGreaterThan(1_000);
    expect(report.violations).toEqual([]);
  }, 180_000);
});
