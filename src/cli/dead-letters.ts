import { DeadLetterListQuery, DeadLetterReplayBody } from '../../contracts/index.js';
import { DeadLetters, type DeadLetter } from '../broker/dead-letters.js';
import { bridgeTopology } from '../broker/topology.js';
import { expectPositionals, optionValue, parseCommandArgs } from './args.js';
import { openBroker } from './broker.js';
import { EXIT, FailureError, UsageError, type CliContext, type Command } from './command.js';
import { BROKER_VARIABLES, configFrom } from './env.js';

const usage = `Usage: bridge dead-letters list [--limit N] [--json]
       bridge dead-letters replay [--limit N] [--json]

Works on the queue <AMQP_QUEUE>.dead-letter directly over AMQP (the bridge need not run).

  list     shows up to N dead letters, oldest first (default 50, at most 500): reason, detail,
           routing key, body; they stay in the queue
  replay   publishes up to N of the oldest (default 100, at most 1000) back to AMQP_EXCHANGE with
           their original routing key and body; one that no queue takes stays dead-lettered
  --json   one JSON document instead of text`;

function printLetter(letter: DeadLetter, index: number, ctx: CliContext): void {
  const lines = [
    `#${index + 1} ${letter.reason ?? '(no reason)'}  routing key ${letter.routingKey}${letter.exchange ? ` on ${letter.exchange}` : ''}`,
    `   detail: ${letter.detail ?? '-'}`,
    `   id: ${letter.messageId ?? '-'}  ${letter.size} bytes${letter.contentType ? `  ${letter.contentType}` : ''}`,
    `   body: ${letter.body}${letter.bodyTruncated ? ' …(truncated)' : ''}`,
  ];
  ctx.stdout(`${lines.join('\n')}\n`);
}

export const deadLettersCommand: Command = {
  name: 'dead-letters',
  summary: 'list the dead-letter queue, or replay it to the exchange',
  usage,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, ['limit'], ['json']);
    if (values.help) {
      ctx.stdout(`${usage}\n`);
      return EXIT.ok;
    }
    const action = positionals[0];
    if (action !== 'list' && action !== 'replay') {
      throw new UsageError(`${action === undefined ? 'missing action' : `unknown action "${action}"`}: list or replay\n${usage}`);
    }
    expectPositionals(positionals, 1, usage);
    // The bounds of the HTTP routes, from the same contracts.
    const limit =
      action === 'list'
        ? optionValue('--limit', DeadLetterListQuery.shape.limit, values.limit)
        : optionValue('--limit', DeadLetterReplayBody.shape.limit, values.limit === undefined ? undefined : Number(values.limit));
    const config = configFrom(ctx.env, BROKER_VARIABLES);
    const topology = bridgeTopology(config.AMQP_EXCHANGE, config.AMQP_QUEUE);
    const queue = topology.deadLetterQueue.queue;

    const connection = await openBroker(config.AMQP_URL);
    try {
      // DeadLetters declares the queue; a mistyped AMQP_QUEUE must not leave a stray durable queue behind.
      const exists = await connection.queueDeclare({ queue, passive: true }).then(
        () => true,
        () => false,
      );
      if (!exists) throw new FailureError(`the queue ${queue} does not exist: is AMQP_QUEUE the bridge's queue?`);
      const deadLetters = new DeadLetters(connection, topology);
      if (action === 'list') {
        const { total, messages } = await deadLetters.list(limit);
        if (values.json) {
          ctx.stdout(`${JSON.stringify({ queue, total, messages }, null, 2)}\n`);
        } else {
          ctx.stdout(`${queue}: ${total} dead letter${total === 1 ? '' : 's'}${messages.length < total ? `, the oldest ${messages.length} shown` : ''}\n`);
          messages.forEach((letter, i) => printLetter(letter, i, ctx));
        }
      } else {
        const outcome = await deadLetters.replay(limit);
        ctx.stdout(
          values.json
            ? `${JSON.stringify({ queue, ...outcome })}\n`
            : `${queue}: replayed ${outcome.replayed}, unroutable ${outcome.unroutable} (kept in the queue), ${outcome.remaining} in the queue now\n`,
        );
      }
      return EXIT.ok;
    } catch (err) {
      if (err instanceof FailureError) throw err;
      throw new FailureError(`dead-letters ${action} failed: ${(err as Error).message}`);
    } finally {
      await connection.close();
    }
  },
};
