import { writeFile, mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runFuzz } from './campaign.js';

/**
 * `npm run fuzz -- --seed=S --minutes=M`: one seeded fuzz run against a real bridge process and
 * RabbitMQ; prints the report and exits 1 on any violation. `--case=N[,M]` replays single cases.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      minutes: { type: 'string', default: '1' },
      case: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      'memory-bound-mb': { type: 'string', default: '32' },
      out: { type: 'string', default: 'fuzz/results' },
      'amqp-url': { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' },
    },
  });
  const seed = Number(values.seed);
  const minutes = Number(values.minutes);
  if (!Number.isInteger(seed) || !(minutes > 0)) throw new Error('--seed must be an integer and --minutes a positive number');
  const onlyCases = values.case?.split(',').map(Number);
  if (onlyCases?.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('--case takes case numbers: --case=12 or --case=12,40');
  const log = (line: string) => process.stdout.write(`[fuzz seed=${seed}] ${line}\n`);
  const { report, text } = await runFuzz({
    seed,
    durationMs: minutes * 60_000,
    amqpUrl: values['amqp-url'],
    concurrency: Number(values.concurrency),
    memoryBoundBytes: Number(values['memory-bound-mb']) * 2 ** 20,
    ...(onlyCases ? { onlyCases, settleMs: 2_000 } : {}),
    log,
  });
  process.stdout.write(`${text}\n`);
  await mkdir(values.out, { recursive: true });
  const file = `${values.out}/seed-${seed}.report.json`;
  await writeFile(file, JSON.stringify(report, null, 2));
  log(`report in ${file}`);
  process.exit(report.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz run failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
