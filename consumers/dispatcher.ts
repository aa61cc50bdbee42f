import type { BridgeEvent } from '../contracts/index.js';
import { EventBusyError, type DedupeStore } from '../src/state/stores.js';
import { decodeEvent, type Decoded } from './decode.js';

/** What became of a valid event. */
export type Delivery = 'delivered' | 'duplicate';

/**
 * The two things the broker layer needs from consumers. `decode` is pure and may run for many
 * messages at once; `deliver` must be called in queue order, one event at a time, since it numbers
 * and fans out each trip's stream.
 */
export interface Dispatcher {
  /** Checks a message body against the contracts: a valid event, or why it is rejected. */
  decode(body: unknown): Decoded;
  /**
   * De-duplicates and routes a valid event; rejects only when handling it failed (worth a retry).
   * `redelivered`: the broker gave it before, to a consumer that lost its channel; a claim that
   * consumer still holds is taken over rather than waited out.
   */
  deliver(event: BridgeEvent, redelivered?: boolean): Promise<Delivery>;
}

/** Validates, de-duplicates and routes messages. */
export function createDispatcher(deps: {
  dedupe: DedupeStore;
  route: (event: BridgeEvent) => Promise<void>;
}): Dispatcher {
  return {
    decode: decodeEvent,
    async deliver(event, redelivered = false) {
      const claim = await deps.dedupe.claim(event.id, redelivered);
      if (claim === 'seen') return 'duplicate';
      if (claim === 'busy') throw new EventBusyError(`event ${event.id} is being handled by another instance`);
      try {
        await deps.route(event);
      } catch (err) {
        // Forgotten again, so that the retry (or a redelivery) is not taken for a duplicate.
        await deps.dedupe.release(event.id).catch(() => undefined);
        throw err;
      }
      await deps.dedupe.complete(event.id);
      return 'delivered';
    },
  };
}
