import type { ChaosHistory } from '../history.js';
import type { CheckReport } from './check-history.js';
import { PROPERTIES } from './findings.js';

/** The report for people: counts per property, the first violations with their ids, the fault schedule. */
export function formatReport(report: CheckReport, history: ChaosHistory): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const rel = (t: number) => `+${seconds(t - history.startedAt)}`;
  const s = report.stats;
  const lines = [
    `chaos check ${report.ok ? 'passed' : 'FAILED'}: seed ${history.seed}, ` +
      `${seconds(history.endedAt - history.startedAt)}, instances ${history.instances.join(', ')}`,
    `published ${s.published} (${s.valid} valid, ${s.invalid} invalid, ${s.republished} republished); ` +
      `${s.clients.typed} typed and ${s.clients.raw} raw clients (${s.rawSessions} raw sessions)`,
    `${s.deliveries} deliveries, ${s.resyncs} resyncs, ${s.renumberedAfterStateLoss} renumbered after state loss, ` +
      `${s.unobserved} unobserved (nobody stayed in the stream, or Redis lost its state after them)`,
    '',
    `${'property'.padEnd(14)}${'checked'.padStart(10)}${'violations'.padStart(12)}`,
  ];
  for (const p of PROPERTIES) {
    const { checked, violations, rules } = report.counts[p];
    const byRule = Object.entries(rules).map(([rule, n]) => `${rule} ${n}`).join(', ');
    lines.push(`${p.padEnd(14)}${String(checked).padStart(10)}${String(violations).padStart(12)}${byRule ? `  (${byRule})` : ''}`);
  }
  for (const p of PROPERTIES) {
    const shown = report.violations.filter((v) => v.property === p);
    if (shown.length === 0) continue;
    lines.push('', `${p}: first ${shown.length} of ${report.counts[p].violations}`);
    for (const v of shown) {
      lines.push(`  ${v.t === undefined ? 'end' : rel(v.t)} [${v.rule}] ${v.message}`);
      if (v.eventIds && v.eventIds.length > 0) lines.push(`      ids: ${v.eventIds.join(', ')}`);
    }
  }
  lines.push('', `faults (healing from ${rel(history.healedAt)}):`);
  if (history.faults.length === 0) lines.push('  none');
  for (const f of [...history.faults].sort((a, b) => a.at - b.at)) {
    const until = f.until === undefined ? '' : ` (until ${rel(f.until)})`;
    lines.push(`  ${rel(f.at)} ${f.kind}${f.target ? ` ${f.target}` : ''}${until}${f.detail ? `: ${f.detail}` : ''}`);
  }
  return lines.join('\n');
}
