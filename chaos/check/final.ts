import type { ChaosHistory, PublishedRecord } from '../history.js';
import type { Findings, RuleName } from './findings.js';
import type { Context } from './scope.js';

/**
 * Completeness rule 3: every event reached someone, when someone was in its stream from before it was
 * published to the end of the run without being told to reload since (a resync, a new epoch), and no
 * loss of Redis's state came after it (an event numbered just before Redis lost its data may reach
 * nobody: clients learn of it by the new epoch). The other unobserved events are counted, not
 * reported: the gap rules judge every client that saw past them.
 */
export function checkObserved(ctx: Context): number {
  let unobserved = 0;
  const lastLoss = Math.max(-Infinity, ...ctx.stateLoss.map((f) => f.until ?? f.at));
  for (const index of ctx.streams.values()) {
    ctx.findings.check('completeness', index.expected.length);
    for (const { id, t } of index.expected) {
      if (index.positions.has(id)) continue;
      if (t < index.stayedFrom || t <= lastLoss) {
        unobserved += 1;
        continue;
      }
      ctx.findings.add({
        property: 'completeness',
        rule: 'notObserved',
        message: `${id}, published to ${index.name} while a client stayed in it to the end, reached no client and is not in the final tail`,
        stream: index.name,
        eventIds: [id],
        t,
      });
    }
  }
  return unobserved;
}

/** Dead letters: the bridge queue drained, every invalid event dead-lettered with its reason, nothing else. */
export function checkDeadLetters(history: ChaosHistory, findings: Findings): void {
  const report = (rule: RuleName, message: string, id?: string, t?: number) =>
    findings.add({ property: 'deadLetters', rule, message, eventIds: id === undefined ? undefined : [id], t });
  findings.check('deadLetters');
  const { queueMessages, deadLetters } = history.final;
  if (queueMessages !== 0) report('queueNotEmpty', `${queueMessages} message(s) left in the bridge queue after healing`);
  const invalid = new Map<string, PublishedRecord>();
  for (const record of history.published) if (!record.valid) invalid.set(record.id, record);
  const reasons = new Map<string, Array<string | undefined>>();
  for (const letter of deadLetters) {
    findings.check('deadLetters');
    if (letter.id === undefined || !invalid.has(letter.id)) {
      const what = letter.id === undefined ? 'without an id' : `${letter.id}, which was not published invalid`;
      const detail = letter.detail ? `: ${letter.detail}` : '';
      report('unexpectedDeadLetter', `dead letter ${what} (reason ${letter.reason ?? 'none'}${detail})`, letter.id);
      continue;
    }
    reasons.set(letter.id, [...(reasons.get(letter.id) ?? []), letter.reason]);
  }
  for (const record of invalid.values()) {
    findings.check('deadLetters');
    const got = reasons.get(record.id);
    if (!got) report('missingDeadLetter', `invalid ${record.type} ${record.id} is not in the dead-letter queue`, record.id, record.t);
    else if (record.expectedReason !== undefined && !got.includes(record.expectedReason)) {
      const message = `invalid ${record.id} was dead-lettered as ${got.join(', ')}, expected ${record.expectedReason}`;
      report('wrongReason', message, record.id, record.t);
    }
  }
}

/** Health: every running instance answers 200 on /health after healing. */
export function checkHealth(history: ChaosHistory, findings: Findings): void {
  for (const [instance, status] of Object.entries(history.final.health)) {
    findings.check('health');
    if (status === 200) continue;
    findings.add({ property: 'health', rule: 'unhealthy', message: `instance ${instance} answers ${status} on /health after healing` });
  }
}
