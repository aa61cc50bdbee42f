import type { MembershipFact, Recorded } from './stores.js';

/**
 * At one instant, a removal (or deletion) outranks an addition: when two facts carry the same time,
 * nothing tells which happened last, and granting a trip to a user who may have been removed is the
 * error that cannot be taken back (they would see its events), while refusing one who was re-added
 * at that instant is repaired by the publisher's next fact.
 */
const RANK: Record<MembershipFact['change'], number> = { added: 0, removed: 1, deleted: 1 };

/**
 * Whether `fact` replaces `stored`: it is later, or at the same time and of no lower rank (so the
 * same fact again is recorded again). An older fact changes nothing. The Redis store's RECORD_FACT
 * script applies the same rule; keep the two equal.
 */
export function outcomeOf(fact: MembershipFact, stored: MembershipFact | undefined): Recorded {
  if (stored === undefined || fact.at > stored.at) return 'recorded';
  return fact.at === stored.at && RANK[fact.change] >= RANK[stored.change] ? 'recorded' : 'stale';
}
