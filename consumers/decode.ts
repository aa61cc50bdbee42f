import {
  CloudEventEnvelope,
  eventDataSchemas,
  isEventType,
  MAX_EVENT_BYTES,
  type BridgeEvent,
  type RejectionReason,
} from '../contracts/index.js';
import type { z } from 'zod';
import { shallowJsonText } from './json-text.js';

/** The content type whose bodies rabbitmq-client hands over parsed (without a content encoding). */
const PARSED_BY_THE_CLIENT = 'application/json';

export type Decoded =
  | { ok: true; event: BridgeEvent }
  | { ok: false; reason: Exclude<RejectionReason, 'handler_failed'>; detail: string };

const reject = (reason: Exclude<RejectionReason, 'handler_failed'>, detail: string): Decoded => ({
  ok: false,
  reason,
  detail: detail.slice(0, 200),
});

/** The first issue as `<path>: <message>`, the path under `root` when given (`data.tripId: …`). */
function describe(error: z.ZodError, root?: string): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = [...(root ? [root] : []), ...issue.path.map(String)].join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * Turns a queue message body into a validated event, or says why it is rejected. The body is bytes,
 * a string, or a value the AMQP client already parsed from `application/json` (its size is then
 * measured on its re-serialization: whitespace the publisher added is not counted).
 *
 * What one message may cost before it is rejected: bytes and strings are measured before they are
 * parsed, so no more than MAX_EVENT_BYTES is ever parsed here. The AMQP client, though, holds every
 * delivered body whole (up to the broker's `max_message_size`: 128 MiB by default in RabbitMQ 3.13),
 * AMQP_PREFETCH of them at a time, and parses `application/json` ones itself before this runs: that
 * bound is the broker's, best set a little above MAX_EVENT_BYTES. An accepted event re-serializes
 * to at most about 4.4 times its body (`1e20` becomes 21 digits; an invalid UTF-8 byte, 3 bytes), so
 * what a stream hands out is bounded too; what it keeps is capped per stream by HISTORY_MAX_BYTES.
 */
export function decodeEvent(body: unknown, contentType?: string): Decoded {
  let value: unknown;
  // The AMQP client parsed `application/json`: a string is then a JSON string, not text to parse.
  const parsed = !Buffer.isBuffer(body) && (typeof body !== 'string' || contentType === PARSED_BY_THE_CLIENT);
  if (!parsed) {
    const size = Buffer.isBuffer(body) ? body.length : Buffer.byteLength(body as string);
    if (size > MAX_EVENT_BYTES) return reject('too_large', `body is ${size} bytes, limit ${MAX_EVENT_BYTES}`);
    try {
      value = JSON.parse((body as Buffer | string).toString());
    } catch (err) {
      return reject('invalid_json', (err as Error).message);
    }
  } else {
    const text = shallowJsonText(body);
    if (text === undefined) return reject('too_large', 'body nests too deeply to be handled');
    const size = Buffer.byteLength(text);
    if (size > MAX_EVENT_BYTES) return reject('too_large', `body is ${size} bytes, limit ${MAX_EVENT_BYTES}`);
    value = body;
  }

  const envelope = CloudEventEnvelope.safeParse(value);
  if (!envelope.success) return reject('invalid_envelope', describe(envelope.error));
  const { type } = envelope.data;
  if (!isEventType(type)) return reject('unknown_type', `type ${type} is not consumed by the bridge`);

  const data = eventDataSchemas[type].safeParse(envelope.data.data);
  if (!data.success) return reject('invalid_data', describe(data.error, 'data'));
  return { ok: true, event: { ...envelope.data, type, data: data.data } as BridgeEvent };
}
