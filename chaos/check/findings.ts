/** What a check finds: the properties and rules, the violations, and their counts (all counted, the oldest kept). */

/** The promises checked, in report order. */
export const PROPERTIES = ['numbering', 'typedOrder', 'rawOrder', 'completeness', 'deadLetters', 'health'] as const;
export type PropertyName = (typeof PROPERTIES)[number];

/** The rule of a property a violation breaks: stable names, for tests and for comparing runs. */
export type RuleName =
  // numbering
  | 'positionTaken'
  | 'renumberedInEpoch'
  | 'skipped'
  | 'outOfOrder'
  | 'notInStream'
  // typedOrder, rawOrder (typedResync: the client said events were lost when none were)
  | 'notJoined'
  | 'duplicate'
  | 'gapWithoutResync'
  | 'gapAfterResync'
  | 'inversion'
  | 'typedResync'
  // completeness
  | 'missed'
  | 'notAtHead'
  | 'notObserved'
  // deadLetters, health
  | 'queueNotEmpty'
  | 'missingDeadLetter'
  | 'wrongReason'
  | 'unexpectedDeadLetter'
  | 'unhealthy';

export interface Violation {
  property: PropertyName;
  rule: RuleName;
  message: string;
  client?: string;
  stream?: string;
  eventIds?: string[];
  t?: number;
}

export interface PropertyCount {
  checked: number;
  violations: number;
  /** Violations per rule broken. */
  rules: Partial<Record<RuleName, number>>;
}

const byTime = (a: Violation, b: Violation) => (a.t ?? Infinity) - (b.t ?? Infinity) || 0;

/** Counts every violation, keeps the oldest few of each property. */
export class Findings {
  readonly counts = Object.fromEntries(
    PROPERTIES.map((p) => [p, { checked: 0, violations: 0, rules: {} }]),
  ) as Record<PropertyName, PropertyCount>;
  private readonly kept = new Map<PropertyName, Violation[]>(PROPERTIES.map((p) => [p, []]));

  constructor(private readonly cap: number) {}

  check(property: PropertyName, items = 1): void {
    this.counts[property].checked += items;
  }

  add(violation: Violation): void {
    const count = this.counts[violation.property];
    count.violations += 1;
    count.rules[violation.rule] = (count.rules[violation.rule] ?? 0) + 1;
    const kept = this.kept.get(violation.property) ?? [];
    kept.push(violation);
    // Trimmed now and then, so that a badly broken run does not hold every violation.
    if (kept.length >= 2 * this.cap + 64) this.kept.set(violation.property, kept.sort(byTime).slice(0, this.cap));
  }

  oldest(): Violation[] {
    return PROPERTIES.flatMap((p) => (this.kept.get(p) ?? []).sort(byTime).slice(0, this.cap)).sort(byTime);
  }
}
