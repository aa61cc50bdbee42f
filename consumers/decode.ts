import {
  CloudEventEnvelope,
  eventDataSchemas,
  isEventType,
  issueText,
  MAX_EVENT_BYTES,
  MAX_EVENT_DEPTH,
  type BridgeEvent,
  type RejectionReason,
} from '../contracts/index.js';
import type { z } from 'zod';

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
  return issue ? issueText(issue, root) : 'invalid';
}

const [QUOTE, BACKSLASH, OPEN_ARRAY, OPEN_OBJECT, CLOSE_ARRAY, CLOSE_OBJECT] = [0x22, 0x5c, 0x5b, 0x7b, 0x5d, 0x7d];

/**
 * Whether JSON text nests arrays and objects deeper than `limit`, by a scan of its bytes (brackets
 * in strings do not count). A body of fewer than 2 × limit bytes cannot, and is not scanned: that is
 * nearly every event.
 */
export function nestsDeeperThan(text: Buffer, limit: number): boolean {
  if (text.length <= 2 * limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

/**
 * Turns a queue message body, its bytes as published, into a validated event, or says why it is
 * rejected.
 *
 * What one message may cost before it is rejected: its size and nesting are checked on the bytes,
 * so no more than MAX_EVENT_BYTES is ever parsed here, and nothing nested deeper than
 * MAX_EVENT_DEPTH (which writing it out again would overflow the stack on). The AMQP client holds
 * every delivered body whole (up to the broker's `max_message_size`: 128 MiB by default in RabbitMQ
 * 3.13), AMQP_PREFETCH of them at a time: that bound is the broker's, best set a little above
 * MAX_EVENT_BYTES. An accepted event re-serializes to at most about 4.4 times its body (`1e20`
 * becomes 21 digits; an invalid UTF-8 byte, 3 bytes), so what a stream hands out is bounded too;
 * what it keeps is capped per stream by HISTORY_MAX_BYTES.
 */
export function decodeEvent(body: Buffer): Decoded {
  if (body.length > MAX_EVENT_BYTES) return reject('too_large', `body is ${body.length} bytes, limit ${MAX_EVENT_BYTES}`);
  if (nestsDeeperThan(body, MAX_EVENT_DEPTH)) return reject('too_large', `body nests deeper than ${MAX_EVENT_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(body.toString());
  } catch (err) {
    return reject('invalid_json', (err as Error).message);
  }

  const envelope = CloudEventEnvelope.safeParse(value);
  if (!envelope.success) return reject('invalid_envelope', describe(envelope.error));
  const { type } = envelope.data;
  if (!isEventType(type)) return reject('unknown_type', `type ${type} is not consumed by the bridge`);

  const data = eventDataSchemas[type].safeParse(envelope.data.data);
  if (!data.success) return reject('invalid_data', describe(data.error, 'data'));
  // Object.assign rather than a spread with more properties after it: see MemoryStreamStore.append.
  return { ok: true, event: Object.assign({}, envelope.data, { type, data: data.data }) as BridgeEvent };
}
