import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** The stable `event` values of the audit trail: what operators search the logs for. */
export type AuditEvent = 'socket.refused' | 'audit.forbidden' | 'audit.rate_limited' | 'audit.admin';

/**
 * What an audit line carries besides its event: who (when the token verified) and from where, plus
 * what was refused. Never a token: callers pass identifiers, not credentials.
 */
export interface AuditFields {
  userId?: string | undefined;
  address?: string | undefined;
  [field: string]: string | number | boolean | undefined;
}

export interface Audit {
  /** Logs one line with a stable `event` field and counts it in `bridge_audit_events_total`. */
  record(event: AuditEvent, fields: AuditFields, message: string): void;
  /** Counts an occurrence without a line (the repeats of a flood, whose first hit was logged). */
  count(event: AuditEvent): void;
}

const LEVEL: Record<AuditEvent, 'info' | 'warn'> = {
  'socket.refused': 'info',
  'audit.forbidden': 'warn',
  'audit.rate_limited': 'warn',
  'audit.admin': 'info',
};

/** The audit trail of one instance; without metrics (unit tests of the HTTP app) it only logs. */
export function createAudit(logger: Logger, metrics?: Pick<Metrics, 'auditEvents'>): Audit {
  const log = logger.child({ component: 'audit' });
  return {
    record(event, fields, message) {
      metrics?.auditEvents.inc({ event });
      log[LEVEL[event]]({ ...fields, event }, message);
    },
    count(event) {
      metrics?.auditEvents.inc({ event });
    },
  };
}
