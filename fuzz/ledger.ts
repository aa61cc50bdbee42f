import { CloudEventEnvelope, eventDataSchemas, isEventType, MAX_EVENT_BYTES, MAX_EVENT_DEPTH } from '../contracts/index.js';
import { BINDING_KEYS } from '../src/broker/topology.js';

/** What the contract says must become of an AMQP body: dead-lettered (with the reason it deserves) or accepted. */
export type Verdict = { deadLetter: true; reason: string } | { deadLetter: false };

/** Whether a topic binding (`*` one word, `#` zero or more) matches a routing key. */
export function topicMatches(binding: string, key: string): boolean {
  const match = (b: string[], k: string[]): boolean => {
    if (b.length === 0) return k.length === 0;
    const [head, ...rest] = b;
    if (head === '#') return match(rest, k) || (k.length > 0 && match(b, k.slice(1)));
    return k.length > 0 && (head === '*' || head === k[0]) && match(rest, k.slice(1));
  };
  return match(binding.split('.'), key.split('.'));
}

/** True when the bridge's queue receives messages published with this routing key. */
export const routable = (key: string) => BINDING_KEYS.some((b) => topicMatches(b, key));

/** The deepest nesting of arrays and objects in JSON text, brackets inside strings not counted (on bytes, as the contract says). */
function bracketDepth(body: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = String.fromCharCode(body[i]!);
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return deepest;
}

/**
 * The contract's verdict on a body, worked out from the raw bytes the publisher sent, whatever its
 * content type: larger than 256 KiB, or nesting arrays and objects deeper than MAX_EVENT_DEPTH (both
 * judged on the bytes, before parsing), is too_large; then not JSON, not a CloudEvents envelope, a
 * type not consumed, or data that does not fit the type are all dead-lettered.
 */
export function contractVerdict(body: Buffer): Verdict {
  if (body.length > MAX_EVENT_BYTES || bracketDepth(body) > MAX_EVENT_DEPTH) return { deadLetter: true, reason: 'too_large' };
  let value: unknown;
  try {
    value = JSON.parse(body.toString());
  } catch {
    return { deadLetter: true, reason: 'invalid_json' };
  }
  const envelope = CloudEventEnvelope.safeParse(value);
  if (!envelope.success) return { deadLetter: true, reason: 'invalid_envelope' };
  if (!isEventType(envelope.data.type)) return { deadLetter: true, reason: 'unknown_type' };
  if (!eventDataSchemas[envelope.data.type].safeParse(envelope.data.data).success) return { deadLetter: true, reason: 'invalid_data' };
  return { deadLetter: false };
}

export interface LedgerEntry {
  caseNo: number;
  messageId: string;
  routingKey: string;
  contentType: string | undefined;
  contentEncoding?: string | undefined;
  routable: boolean;
  verdict: Verdict;
  /** The first bytes, for the report. */
  preview: string;
  bytes: number;
  body: Buffer | undefined;
}

/** Every AMQP body the fuzzer published (confirmed by the broker), and what must become of it. */
export class AmqpLedger {
  readonly entries = new Map<string, LedgerEntry>();

  record(entry: Omit<LedgerEntry, 'routable' | 'verdict' | 'preview' | 'bytes' | 'body'>, body: Buffer): LedgerEntry {
    const full: LedgerEntry = {
      ...entry,
      routable: routable(entry.routingKey),
      verdict: contractVerdict(body),
      preview: JSON.stringify(body.subarray(0, 160).toString('latin1')),
      bytes: body.length,
      // Kept (small ones only) to compare with the dead-lettered copy: "with its original body".
      body: body.length <= 4_096 ? body : undefined,
    };
    this.entries.set(entry.messageId, full);
    return full;
  }

  /** The entries the bridge's dead-letter queue must hold once everything was consumed. */
  expectedDeadLetters(): LedgerEntry[] {
    return [...this.entries.values()].filter((e) => e.routable && e.verdict.deadLetter);
  }
}
