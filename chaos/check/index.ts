/**
 * Checks a recorded chaos run against the bridge's delivery promises. Pure: it reads a
 * `ChaosHistory` and nothing else, so a failing run can be re-checked from its JSON alone.
 */

export { checkHistory, type CheckOptions, type CheckReport } from './check-history.js';
export { formatReport } from './format.js';
export { PROPERTIES, type PropertyCount, type PropertyName, type RuleName, type Violation } from './findings.js';
