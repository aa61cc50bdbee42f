import type { MembershipFact, MembershipStore } from '../state/stores.js';
import type { AuthUser } from '../realtime/types.js';

/** A change voids the tokens issued at or before it, and those without `iat`. */
function voids(fact: MembershipFact | undefined, user: AuthUser): boolean {
  return fact !== undefined && (user.iat === undefined || user.iat <= fact.at);
}

/**
 * Whether the user may join (and publish to) a trip: an admin always; a user whom
 * `trip.member.added` added (after any deletion of the trip); or a user whose token lists the trip,
 * unless a later removal or deletion voids that token.
 */
export async function canJoinTrip(user: AuthUser, tripId: string, membership: MembershipStore): Promise<boolean> {
  if (user.role === 'admin') return true;
  const { member, deleted } = await membership.lookup(tripId, user.id);
  if (member?.change === 'added' && (deleted === undefined || member.at > deleted.at)) return true;
  if (voids(deleted, user)) return false;
  if (member?.change === 'removed' && voids(member, user)) return false;
  return user.trips.includes(tripId);
}
