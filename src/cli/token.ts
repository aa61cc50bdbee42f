import { Role } from '../../contracts/index.js';
import { expectPositionals, optionValue, parseCommandArgs } from './args.js';
import { EXIT, UsageError, type Command } from './command.js';
import { DEV_SECRET_WARNING, signDevToken, type DevClaims } from './dev-token.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Longest lifetime of a development token. */
export const MAX_TTL_SECONDS = 30 * 86_400;

/** `90`, `90s`, `15m`, `1h`, `7d` as seconds; at most 30 days. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[(match[2] || 's') as keyof typeof UNIT_SECONDS] : NaN;
  if (!(seconds > 0 && seconds <= MAX_TTL_SECONDS)) {
    throw new UsageError(`--ttl: expected a positive duration up to 30d such as 90s, 15m, 1h or 7d, got "${text}"`);
  }
  return seconds;
}

/** `a,b, c` as ['a', 'b', 'c']; empty entries dropped. */
export function parseList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

const usage = `Usage: bridge token --sub <id> [--trips a,b] [--role admin|user] [--name <name>] [--ttl 1h] [--json]

Signs a development HS256 token with JWT_SECRET and JWT_ISSUER / JWT_AUDIENCE, and prints it.
Without JWT_SECRET it signs with the service's development-only key (a warning on stderr).
Refused with NODE_ENV=production (exit 2).

  --sub <id>       the user id (required)
  --trips a,b      trips the user may join
  --role <role>    admin or user
  --name <name>    display name
  --ttl <duration> lifetime: 90s, 15m, 1h (default), 7d; at most 30d
  --json           print {"token","claims"} instead of the bare token`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'sign a development token (refused in production)',
  usage,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, ['sub', 'trips', 'role', 'name', 'ttl'], ['json']);
    if (values.help) {
      ctx.stdout(`${usage}\n`);
      return EXIT.ok;
    }
    expectPositionals(positionals, 0, usage);
    if (values.sub === undefined) throw new UsageError(`missing --sub\n${usage}`);
    const claims: DevClaims = { sub: values.sub };
    if (values.trips !== undefined) claims.trips = parseList(values.trips);
    if (values.role !== undefined) claims.role = optionValue('--role', Role, values.role);
    if (values.name !== undefined) claims.name = values.name;
    const signed = await signDevToken(ctx.env, claims, parseTtl(values.ttl ?? '1h'));
    if (signed.usingDevSecret) ctx.stderr(`${DEV_SECRET_WARNING}\n`);
    ctx.stdout(values.json ? `${JSON.stringify({ token: signed.token, claims: signed.claims })}\n` : `${signed.token}\n`);
    return EXIT.ok;
  },
};
