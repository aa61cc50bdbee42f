import type { Rng } from '../../chaos/rng.js';
import type { FuzzAmqp } from '../amqp-side.js';
import type { AmqpLedger } from '../ledger.js';

export const SURFACES = ['engine.io', 'polling', 'handshake', 'client-events', 'http', 'amqp'] as const;
export type SurfaceName = (typeof SURFACES)[number];

/** What every case may use: the bridge's address, the broker side and the run's ledger. */
export interface FuzzContext {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  seed: number;
  amqp: FuzzAmqp;
  ledger: AmqpLedger;
}

/** One case's record: what it sent (short, for reproduction) and what it saw that breaks a promise. */
export interface CaseResult {
  input: string;
  problems: string[];
  /** Oddities that break no promise of the bridge's (a library's own answer, say), counted in the report. */
  notes?: string[];
}

export interface Surface {
  name: SurfaceName;
  /** Relative share of the cases. */
  weight: number;
  run(ctx: FuzzContext, rng: Rng, caseNo: number): Promise<CaseResult>;
}

/** A short, printable description of a value for a report (JSON, cut at `max` characters). */
export function brief(value: unknown, max = 240): string {
  let text: string;
  if (Buffer.isBuffer(value)) text = `<${value.length} bytes> ${JSON.stringify(value.subarray(0, 80).toString('latin1'))}`;
  else if (typeof value === 'string') text = value.length > max ? `<${value.length} chars> ${JSON.stringify(value.slice(0, max))}` : JSON.stringify(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}…(${text.length})` : text;
}

/** Error codes a client may see in an acknowledgement or `request:error` (the contract's list). */
export const ACK_CODES = new Set(['invalid_payload', 'unauthorized', 'forbidden', 'not_joined', 'rate_limited', 'unavailable', 'internal']);

/** The trips fuzzed users may be granted (few, so that joins and updates meet each other). */
export const FUZZ_TRIPS = ['fz-t1', 'fz-t2', 'fz-t3', 'fz-t4'];
