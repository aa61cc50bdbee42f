import { z } from 'zod';
import { DEFAULT_SYSTEMS, SYSTEM_NAMES } from '../systems/types.js';

export const SCENARIO_NAMES = ['idle', 'fanout', 'broadcast', 'burst', 'drain'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const count = z.coerce.number().int().positive();
const list = <T extends string>(values: readonly [T, ...T[]]) =>
  z.string().transform((s, ctx) => {
    const items = s.split(',').map((x) => x.trim()).filter(Boolean);
    for (const item of items) {
      if (!(values as readonly string[]).includes(item)) ctx.addIssue({ code: 'custom', message: `unknown '${item}' (one of ${values.join(', ')})` });
    }
    return items as T[];
  });

/**
 * Every flag of `npm run bench -- --flag=value`, with the defaults that make the whole run (four
 * systems, four scenarios) take about two minutes on 2 cores.
 */
const Options = z.object({
  systems: list(SYSTEM_NAMES)
    .prefault(DEFAULT_SYSTEMS.join(','))
    .describe(`which systems, in order (also: ${SYSTEM_NAMES.filter((s) => !DEFAULT_SYSTEMS.includes(s)).join(', ')})`),
  scenarios: list(SCENARIO_NAMES).prefault(SCENARIO_NAMES.join(',')).describe('which scenarios'),
  clients: count.default(2000).describe('fan-out: sockets, each joined to one trip'),
  trips: count.default(200).describe('fan-out: trips the clients are spread over'),
  rates: z
    .string()
    .default('500,1000,2000,4000,8000')
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().positive()).min(1))
    .describe('fan-out: trip events per second, one step each, until latency breaks'),
  stepSeconds: z.coerce.number().positive().default(1.5).describe('fan-out: length of each rate step'),
  refine: z.coerce.number().int().min(0).default(2).describe('fan-out: steps bisecting last held and first broken rate'),
  warmupSeconds: z.coerce.number().min(0).default(1).describe('fan-out: unmeasured events at the first rate, first'),
  graceMs: z.coerce.number().int().min(0).default(1000).describe('time after a step for late deliveries'),
  p99LimitMs: z.coerce.number().positive().default(50).describe('a step breaks when p99 is above this'),
  broadcastClients: count.default(5000).describe('broadcast: sockets'),
  broadcastRate: z.coerce.number().positive().default(2).describe('broadcast: notification.broadcast per second, for latency'),
  broadcastSeconds: z.coerce.number().positive().default(2).describe('broadcast: how long at that rate'),
  broadcastBurst: count.default(20).describe('broadcast: events sent at once, for deliveries/s'),
  burstClients: count.default(400).describe('burst: sockets'),
  burstTrips: count.default(40).describe('burst: trips the sockets are spread over'),
  burstEvents: count.default(4000).describe('burst: trip events published at once, for deliveries/s'),
  drainEvents: count.default(50_000).describe('drain: events queued while the system is down'),
  idle: count.default(10_000).describe('idle: authenticated idle sockets (capped by the open-file limit)'),
  clientProcesses: count.max(16).default(2).describe('load-client processes sharing the sockets'),
  concurrency: count.default(50).describe('handshakes in flight per load-client process'),
  addressSpread: count.max(1000).default(1000).describe('loopback source addresses (127.1.x.y) the clients use'),
  amqpUrl: z.string().default(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'),
  redisUrl: z.string().default(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
  out: z.string().optional().describe('directory for latest.json and latest.md (default bench/results)'),
  maxSeconds: count.default(900).describe('watchdog: the run is stopped after this long'),
});

export type Options = z.infer<typeof Options>;

/** Parses `--name=value` / `--name value` (kebab-case names) into Options; throws with the flag named. */
export function parseOptions(argv: string[]): Options {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') throw new UsageRequested();
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`);
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const key = flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (!(key in Options.shape)) throw new Error(`unknown flag --${flag}`);
    raw[key] = inline ?? argv[++i] ?? '';
  }
  const parsed = Options.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = String(issue?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new Error(`--${flag}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export class UsageRequested extends Error {}

/** `--help`: every flag with its default and meaning. */
export function usage(): string {
  const lines = ['usage: npm run bench -- [--flag=value ...]', ''];
  for (const [key, schema] of Object.entries(Options.shape)) {
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const parsed = (schema as z.ZodType).safeParse(undefined);
    const def = parsed.success && parsed.data !== undefined ? String(parsed.data) : '';
    lines.push(`  --${flag.padEnd(18)} ${(schema.description ?? '').padEnd(70)} ${def ? `[${def}]` : ''}`);
  }
  return lines.join('\n');
}
