import type { BridgeEvent } from '../contracts/index.js';
import type { NowOrLater } from '../src/state/now-or-later.js';
import type { Lease } from '../src/state/stores.js';
import { decodeEvent, type Decoded } from './decode.js';

/** What became of a valid event: handed out, or already handed out within the de-duplication window. */
export type Delivery = 'delivered' | 'duplicate';

/**
 * The two things the broker layer needs from consumers. `decode` is pure and may run for many
 * messages at once; `deliver` must be called in queue order, one event at a time per stream, since
 * it numbers and hands out each stream's messages.
 */
export interface Dispatcher {
  /** Checks a message body, its bytes as published, against the contracts: a valid event, or why it is rejected. */
  decode(body: Buffer): Decoded;
  /**
   * Routes a valid event under the writer's lease; idempotent (every write is de-duplicated by event
   * id), so that a redelivered event is never handed out twice. Rejects when handling failed (worth
   * a retry), with FencedError when the lease was taken over. May answer (or throw) at once.
   */
  deliver(event: BridgeEvent, lease: Lease): NowOrLater<Delivery>;
}

/** Validates and routes messages. */
export function createDispatcher(route: (event: BridgeEvent, lease: Lease) => NowOrLater<Delivery>): Dispatcher {
  return { decode: decodeEvent, deliver: route };
}
