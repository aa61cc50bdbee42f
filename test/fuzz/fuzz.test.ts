import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../fuzz/campaign.js';
import { amqpUrl } from '../helpers/bridge.js';

/**
 * The short seeded fuzz run of `npm test`: ~30 s of random and mutated frames, handshakes, client
 * events, HTTP requests and AMQP bodies against one real bridge process, then the checks (alive,
 * no fatal/error/unhandled output, memory flat, healthy, still delivering, every rejected AMQP body
 * dead-lettered). Longer ones: `npm run fuzz -- --seed=S --minutes=M`.
 */
describe.skipIf(!amqpUrl)('a seeded fuzz run', () => {
  it('keeps the bridge up, quiet, flat in memory and delivering (seed 11)', async () => {
    const { report, text } = await runFuzz({ seed: 11, durationMs: 30_000, settleMs: 5_000, amqpUrl: amqpUrl! });
    if (!report.ok) console.log(text);
    expect(report.violations).toEqual([]);
    expect(report.cases).toBeGreaterThan(300);
    for (const count of Object.values(report.bySurface)) expect(count).toBeGreaterThan(10);
    expect(report.deadLetters?.expected).toBeGreaterThan(10);
  }, 90_000);
});
