import { CliError, EXIT, UsageError, type CliContext, type Command, type ExitCode } from './command.js';
import { deadLettersCommand } from './dead-letters.js';
import { publishCommand } from './publish.js';
import { tailCommand } from './tail.js';
import { tokenCommand } from './token.js';

export const COMMANDS: readonly Command[] = [publishCommand, deadLettersCommand, tokenCommand, tailCommand];

/** The text of `bridge --help`. */
export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: bridge <command> [options]    (bridge <command> --help for its options)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Environment (as the service reads it): AMQP_URL, AMQP_EXCHANGE, AMQP_QUEUE (publish, dead-letters);
JWT_SECRET (unset: the development-only key, with a warning), JWT_ISSUER, JWT_AUDIENCE, NODE_ENV
(token, tail); PORT (tail's default --url).

Exit codes:
  0  done
  1  runtime failure: RabbitMQ or the bridge unreachable, no confirm, connection or join refused
  2  usage error: bad arguments, data that breaks the contract, unknown event type, bad configuration,
     or refused here (a development token under NODE_ENV=production); nothing was sent`;
}

/** Runs one command line (without `node` and the script); errors become a stderr line and a code. */
export async function runCli(argv: string[], ctx: CliContext): Promise<ExitCode> {
  const [name, ...args] = argv;
  let prefix = 'bridge';
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? ctx.stderr : ctx.stdout)(`${mainUsage()}\n`);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')} (bridge --help)`);
    prefix = `bridge ${name}`;
    return await command.run(args, ctx);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    ctx.stderr(`${prefix}: ${err.message}\n`);
    return err.code;
  }
}
