import { CloudEventEnvelope, publishableEventData, type PublishableEventType } from '../../contracts/index.js';
import { createEventPublisher, InvalidEventError } from '../broker/publisher.js';
import { describeIssues, expectPositionals, optionValue, parseCommandArgs, readValue } from './args.js';
import { openBroker } from './broker.js';
import { EXIT, FailureError, UsageError, type Command } from './command.js';
import { BROKER_VARIABLES, configFrom } from './env.js';

/** The CloudEvents `source` of what the CLI publishes, unless `--source` says otherwise. */
export const CLI_SOURCE = 'bridge-cli';

const TYPES = Object.keys(publishableEventData) as PublishableEventType[];

const usage = `Usage: bridge publish <type> --data <json|@file> [--id <id>] [--source <source>] [--json]

Validates the event's data against the contract of <type>, then publishes it to AMQP_EXCHANGE
(routing key <type>) with publisher confirms, and prints the event id.

  --data <json|@file>  the event's data as JSON, or @path to read it from a file (@- : stdin)
  --id <id>            the CloudEvents id (1–128 characters; default: a random UUID)
  --source <source>    the CloudEvents source (default: ${CLI_SOURCE})
  --json               print {"eventId","type"} instead of the bare id

Types: ${TYPES.join(', ')}`;

function eventType(type: string | undefined): PublishableEventType {
  if (type === undefined) throw new UsageError(`missing <type>\n${usage}`);
  if (!Object.hasOwn(publishableEventData, type)) {
    throw new UsageError(`unknown event type "${type}"; known types: ${TYPES.join(', ')}`);
  }
  return type as PublishableEventType;
}

/** The `--data` value parsed as JSON and checked against the type's contract, before any connection. */
function eventData(type: PublishableEventType, raw: string | undefined): unknown {
  if (raw === undefined) throw new UsageError(`missing --data\n${usage}`);
  let data: unknown;
  try {
    data = JSON.parse(readValue('--data', raw));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--data: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = publishableEventData[type].safeParse(data);
  if (!parsed.success) throw new UsageError(`invalid ${type} event:\n  ${describeIssues(parsed.error, 'data').join('\n  ')}`);
  return parsed.data;
}

export const publishCommand: Command = {
  name: 'publish',
  summary: 'validate an event against the contracts and publish it to the exchange',
  usage,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, ['data', 'id', 'source'], ['json']);
    if (values.help) {
      ctx.stdout(`${usage}\n`);
      return EXIT.ok;
    }
    expectPositionals(positionals, 1, usage);
    const type = eventType(positionals[0]);
    const data = eventData(type, values.data);
    const id = values.id === undefined ? undefined : optionValue('--id', CloudEventEnvelope.shape.id, values.id);
    const source = optionValue('--source', CloudEventEnvelope.shape.source, values.source ?? CLI_SOURCE);
    const config = configFrom(ctx.env, BROKER_VARIABLES);

    const connection = await openBroker(config.AMQP_URL);
    const publisher = createEventPublisher({ connection, exchange: config.AMQP_EXCHANGE, source });
    try {
      // Checked above; the publisher checks again, which costs nothing and keeps it the one gate.
      const { eventId } = await publisher.publish(type, data as never, id === undefined ? {} : { id });
      ctx.stdout(values.json ? `${JSON.stringify({ eventId, type })}\n` : `${eventId}\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof InvalidEventError) throw new UsageError(err.message);
      throw new FailureError(`not published: ${(err as Error).message}`);
    } finally {
      await publisher.close();
      await connection.close();
    }
  },
};
