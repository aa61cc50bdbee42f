import { describe, expect, it } from 'vitest';
import { canJoinTrip } from '../../src/auth/access.js';
import type { AuthUser } from '../../src/realtime/types.js';
import { MemoryMembershipStore } from '../../src/state/memory-stores.js';

/** Without a fence, the store records under any lease. */
const lease = { token: 'any' };

const user = (overrides: Partial<AuthUser> = {}): AuthUser => ({
  id: 'u1',
  role: 'user',
  trips: [],
  exp: 2_000_000_000,
  iat: 1000,
  ...overrides,
});

describe('canJoinTrip', () => {
  it('admits a trip the token lists, and refuses one it does not', async () => {
    const membership = new MemoryMembershipStore();
    expect(await canJoinTrip(user({ trips: ['t1'] }), 't1', membership)).toBe(true);
    expect(await canJoinTrip(user({ trips: ['t1'] }), 't2', membership)).toBe(false);
  });

  it('admits an admin to any trip, even a deleted one', async () => {
    const membership = new MemoryMembershipStore();
    await membership.record('t1', undefined, { change: 'deleted', at: 5000 }, lease);
    expect(await canJoinTrip(user({ role: 'admin' }), 't1', membership)).toBe(true);
  });

  it('admits a user added by trip.member.added although the token does not list the trip', async () => {
    const membership = new MemoryMembershipStore();
    await membership.record('t1', 'u1', { change: 'added', at: 2000 }, lease);
    expect(await canJoinTrip(user(), 't1', membership)).toBe(true);
  });

  it.each([
    ['issued before the removal', 999, false],
    ['issued at the second of the removal', 1000, false],
    ['issued after the removal', 1001, true],
    ['without iat', undefined, false],
  ])('voids a token %s that lists the trip', async (_when, iat, allowed) => {
    const membership = new MemoryMembershipStore();
    await membership.record('t1', 'u1', { change: 'removed', at: 1000 }, lease);
    expect(await canJoinTrip(user({ trips: ['t1'], iat }), 't1', membership)).toBe(allowed);
  });

  it('admits again after a later trip.member.added', async () => {
    const membership = new MemoryMembershipStore();
    await membership.record('t1', 'u1', { change: 'removed', at: 1000 }, lease);
    await membership.record('t1', 'u1', { change: 'added', at: 1100 }, lease);
    expect(await canJoinTrip(user({ trips: ['t1'], iat: 900 }), 't1', membership)).toBe(true);
  });

  it('refuses a deleted trip to tokens issued before the deletion, whoever listed it', async () => {
    const membership = new MemoryMembershipStore();
    await membership.record('t1', 'u1', { change: 'added', at: 500 }, lease);
    await membership.record('t1', undefined, { change: 'deleted', at: 1000 }, lease);
    expect(await canJoinTrip(user({ trips: ['t1'], iat: 900 }), 't1', membership)).toBe(false);
    expect(await canJoinTrip(user({ iat: 900 }), 't1', membership)).toBe(false);
  });
});
