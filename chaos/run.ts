import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.js';

/**
 * `npm run chaos -- --seed=S --minutes=M`: one seeded fault campaign against real bridge processes,
 * RabbitMQ and a private Redis; prints the checker's report and exits 1 on any violation.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      minutes: { type: 'string', default: '2' },
      instances: { type: 'string', default: '3' },
      out: { type: 'string', default: 'chaos/results' },
      'amqp-url': { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' },
    },
  });
  const seed = Number(values.seed);
  const minutes = Number(values.minutes);
  if (!Number.isInteger(seed) || !(minutes > 0)) throw new Error('--seed must be an integer and --minutes a positive number');
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`[chaos seed=${seed}] ${line}\n`);
  const { report, text } = await runCampaign({
    seed,
    amqpUrl: values['amqp-url'],
    faultPhaseMs: minutes * 60_000,
    instances: Number(values.instances),
    typedClients: 12,
    rawClients: 12,
    trips: 16,
    outDir: values.out,
    log,
  });
  process.stdout.write(`${text}\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; report in ${values.out}/seed-${seed}.report.json`);
  process.exit(report.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos campaign failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
