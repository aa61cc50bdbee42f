import type { MembershipFact } from '../../src/state/stores.js';

/** A time in seconds (fractional: to the millisecond), as the consumer records an event's `time`. */
const T = Date.parse('2026-11-25T10:00:00.000Z') / 1000;

const added = (at: number): MembershipFact => ({ change: 'added', at });
const removed = (at: number): MembershipFact => ({ change: 'removed', at });
const deleted = (at: number): MembershipFact => ({ change: 'deleted', at });

/**
 * The ordering rule both membership stores must follow, as sequences of facts recorded for one user in
 * one trip (or for the trip, `user: undefined`), in arrival order: what each `record` answers and
 * which fact is kept in the end.
 */
export const ORDER_CASES: Array<{
  name: string;
  user?: string;
  facts: MembershipFact[];
  outcomes: Array<'recorded' | 'stale'>;
  kept: MembershipFact;
}> = [
  { name: 'a later fact replaces an earlier one', user: 'u1', facts: [removed(T), added(T + 60)], outcomes: ['recorded', 'recorded'], kept: added(T + 60) },
  { name: 'an older addition arriving late changes nothing', user: 'u1', facts: [removed(T), added(T - 60)], outcomes: ['recorded', 'stale'], kept: removed(T) },
  { name: 'an older removal arriving late changes nothing', user: 'u1', facts: [added(T), removed(T - 60)], outcomes: ['recorded', 'stale'], kept: added(T) },
  { name: 'at the same time, a removal replaces an addition', user: 'u1', facts: [added(T), removed(T)], outcomes: ['recorded', 'recorded'], kept: removed(T) },
  { name: 'at the same time, an addition does not replace a removal', user: 'u1', facts: [removed(T), added(T)], outcomes: ['recorded', 'stale'], kept: removed(T) },
  { name: 'the same fact again is recorded again', user: 'u1', facts: [added(T), added(T)], outcomes: ['recorded', 'recorded'], kept: added(T) },
  { name: 'facts are ordered to the millisecond', user: 'u1', facts: [removed(T + 0.25), added(T + 0.5), removed(T + 0.499)], outcomes: ['recorded', 'recorded', 'stale'], kept: added(T + 0.5) },
  { name: 'an older deletion of the trip arriving late changes nothing', facts: [deleted(T), deleted(T - 60)], outcomes: ['recorded', 'stale'], kept: deleted(T) },
  { name: 'a deletion at the same time is recorded again', facts: [deleted(T), deleted(T)], outcomes: ['recorded', 'recorded'], kept: deleted(T) },
];
