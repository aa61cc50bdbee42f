import { z } from 'zod';
import { Identifier } from '../../contracts/index.js';
import { createBridgeClient, type BridgeClientError, type TokenSource } from '../client/index.js';
import { expectPositionals, optionValue, parseCommandArgs, readValue } from './args.js';
import { EXIT, UsageError, type CliContext, type Command, type ExitCode } from './command.js';
import { DEV_SECRET_WARNING, signDevToken } from './dev-token.js';
import { configFrom } from './env.js';

/** The user a tail signs its development token for when neither --token nor --sub is given. */
export const DEFAULT_TAIL_SUB = 'cli';

/** Lifetime of each development token tail signs; a fresh one is signed for every connection. */
const TAIL_TOKEN_TTL_SECONDS = 3600;

const usage = `Usage: bridge tail <tripId> [--url <url>] [--token <token|@file> | --sub <id>]

Joins the trip as a client and prints every trip:updated event as one JSON line on stdout; status
lines go to stderr. Reconnects by itself and resumes from the last event printed. Exits 0 on
SIGINT/SIGTERM, 1 when the connection or the join is refused (the code is printed) or the trip is
left (removed, deleted).

  --url <url>          the bridge (default: http://127.0.0.1:$PORT)
  --token <token|@file> a token, or @path to read it from a file
  --sub <id>           without --token: sign a development token for this user with trips
                       [<tripId>] (default sub: ${DEFAULT_TAIL_SUB}); refused with NODE_ENV=production`;

/** Codes after which the client retries the handshake by itself (see BridgeClient#refused). */
function handshakeRetried(code: string, refreshable: boolean): boolean {
  return code === 'rate_limited' || (code === 'token_expired' && refreshable);
}

/** The token option, or a function signing a fresh development token per connection (checked once here). */
async function tokenSource(values: { token?: string | undefined; sub?: string | undefined }, tripId: string, ctx: CliContext): Promise<TokenSource> {
  if (values.token !== undefined && values.sub !== undefined) throw new UsageError('--token and --sub exclude each other');
  if (values.token !== undefined) return readValue('--token', values.token).trim();
  const sign = () => signDevToken(ctx.env, { sub: values.sub ?? DEFAULT_TAIL_SUB, trips: [tripId] }, TAIL_TOKEN_TTL_SECONDS);
  // Refusals (production, a bad --sub) come now, before connecting.
  const first = await sign();
  if (first.usingDevSecret) ctx.stderr(`${DEV_SECRET_WARNING}\n`);
  let unused: string | undefined = first.token;
  return async () => {
    const token = unused ?? (await sign()).token;
    unused = undefined;
    return token;
  };
}

/** Follows one trip until a signal (0) or a refusal (1). */
function follow(url: string, tripId: string, token: TokenSource, ctx: CliContext): Promise<ExitCode> {
  const status = (line: string) => ctx.stderr(`tail: ${line}\n`);
  const refreshable = typeof token === 'function';
  const client = createBridgeClient({ url, token, socketOptions: { reconnectionDelayMax: 5000 } });
  return new Promise<ExitCode>((resolve) => {
    let done = false;
    const finish = (code: ExitCode, line?: string) => {
      if (done) return;
      done = true;
      if (line) status(line);
      ctx.signal.removeEventListener('abort', stop);
      client.close();
      resolve(code);
    };
    const stop = () => finish(EXIT.ok, 'stopped');
    if (ctx.signal.aborted) return finish(EXIT.ok);
    ctx.signal.addEventListener('abort', stop);

    client.on('trip:updated', (event) => ctx.stdout(`${JSON.stringify(event)}\n`));
    client.on('connected', (c) => status(`connected to ${url} as ${c.userId}`));
    client.on('trip:joined', (j) => status(`joined trip ${j.tripId} at seq ${j.seq}`));
    client.on('resync', (id, at) => status(`trip ${id}: the server could not replay what came while disconnected (events may be missing); continuing after seq ${at.seq} (epoch ${at.epoch})`));
    client.on('server:shutdown', () => status('the server is shutting down; reconnecting'));
    client.on('disconnect', (reason) => {
      if (!done) status(`disconnected (${reason}); reconnecting`);
    });
    client.on('connect_error', (err) => {
      const code = err.data?.code;
      if (code === undefined) status(`cannot connect to ${url} (${err.message}); retrying`);
      else if (handshakeRetried(code, refreshable)) status(`connection refused: ${code}; retrying`);
      else finish(EXIT.failure, `connection refused: ${code}${err.data?.message ? `: ${err.data.message}` : ''}`);
    });
    client.on('auth:expired', () => {
      if (!refreshable) finish(EXIT.failure, 'the token expired; pass a fresh --token');
      else status('the token expired; reconnecting with a fresh one');
    });
    client.on('rejoin:failed', (id, err) => finish(EXIT.failure, `rejoin of trip ${id} refused: ${err.code}: ${err.message}`));
    client.on('trip:left', (left) => {
      if (left.reason !== 'left') finish(EXIT.failure, `left trip ${left.tripId}: ${left.reason}`);
    });
    client.joinTrip(tripId).catch((err: BridgeClientError) => finish(EXIT.failure, `join refused: ${err.code}: ${err.message}`));
  });
}

export const tailCommand: Command = {
  name: 'tail',
  summary: "follow a trip's events as JSON lines",
  usage,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, ['url', 'token', 'sub']);
    if (values.help) {
      ctx.stdout(`${usage}\n`);
      return EXIT.ok;
    }
    expectPositionals(positionals, 1, usage);
    if (positionals[0] === undefined) throw new UsageError(`missing <tripId>\n${usage}`);
    const tripId = optionValue('<tripId>', Identifier, positionals[0]);
    const url = optionValue('--url', z.url({ protocol: /^https?$/ }), values.url ?? `http://127.0.0.1:${configFrom(ctx.env, ['PORT']).PORT}`);
    return follow(url, tripId, await tokenSource(values, tripId, ctx), ctx);
  },
};
