import type { BridgeEvent, RejectionReason } from '../contracts/index.js';
import type { DedupeStore } from '../src/state/stores.js';
import { decodeEvent } from './decode.js';

/** What became of one queue message; the broker layer turns it into ack or dead letter. */
export type Outcome =
  | { kind: 'delivered'; event: BridgeEvent }
  | { kind: 'duplicate'; eventId: string }
  | { kind: 'rejected'; reason: Exclude<RejectionReason, 'handler_failed'>; detail: string };

/** The two things the broker layer needs from consumers: decode-and-route, one message at a time. */
export interface Dispatcher {
  /** Resolves with the outcome; rejects only when handling a valid event failed (worth a retry). */
  dispatch(body: unknown): Promise<Outcome>;
}

/** Validates, de-duplicates and routes one message. */
export function createDispatcher(deps: {
  dedupe: DedupeStore;
  route: (event: BridgeEvent) => Promise<void>;
}): Dispatcher {
  return {
    async dispatch(body) {
      const decoded = decodeEvent(body);
      if (!decoded.ok) return { kind: 'rejected', reason: decoded.reason, detail: decoded.detail };
      const { event } = decoded;
      if (!(await deps.dedupe.claim(event.id))) return { kind: 'duplicate', eventId: event.id };
      try {
        await deps.route(event);
      } catch (err) {
        await deps.dedupe.release(event.id);
        throw err;
      }
      return { kind: 'delivered', event };
    },
  };
}
