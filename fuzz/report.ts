import type { FuzzReport, Violation } from './campaign.js';
import { mb } from './memory.js';

const repro = (v: Violation) => (v.caseNo === undefined ? '' : ` (reproduce: npm run fuzz -- --seed=${v.seed} --case=${v.caseNo})`);

/** The report as text: cases per surface, the checks, and every violation with its seed and case. */
export function formatReport(r: FuzzReport): string {
  const lines: string[] = [];
  lines.push(`fuzz seed=${r.seed}: ${r.cases} cases in ${(r.durationMs / 1000).toFixed(0)} s — ${r.ok ? 'OK, 0 violations' : `${r.violations.length} VIOLATIONS`}`);
  lines.push(`  cases per surface: ${Object.entries(r.bySurface).map(([s, n]) => `${s} ${n}`).join(', ')}`);
  lines.push(`  process: ${r.exit && r.shutdownCode === r.exit.code && r.violations.some((v) => v.check === 'crash') ? 'CRASHED' : 'stayed up'}; exit code after SIGTERM: ${r.shutdownCode ?? '-'}`);
  const c = r.output.counts;
  lines.push(`  output: fatal ${c.fatal}, error (level 50) ${c.error}, unhandled ${c.unhandled}, stack traces ${c.stack}, other non-JSON ${c.stderr}`);
  const events = Object.entries(r.output.errorEvents);
  if (events.length > 0) lines.push(`  level-50 events: ${events.map(([e, n]) => `${e} ×${n}`).join(', ')}`);
  const m = r.memory;
  lines.push(`  memory (RSS): start ${mb(m.startBytes)}, after warm-up ${mb(m.warmBytes)}, peak ${mb(m.peakBytes)}, end ${mb(m.endBytes)}; growth ${mb(m.growthBytes)} (bound ${mb(m.boundBytes)}) ${m.ok ? 'ok' : 'EXCEEDED'}`);
  lines.push(`  heap in use after forced GC: after warm-up ${mb(m.heapWarmBytes)}, end ${mb(m.heapEndBytes)}`);
  const d = r.deadLetters;
  if (d) {
    lines.push(`  amqp: ${d.published} published, ${d.routable} routable, ${d.expected} the contract rejects, ${d.deadLettered} dead-lettered (${Object.entries(d.byReason).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'})`);
  }
  if (r.notes.length > 0) {
    lines.push(`  notes (${r.notes.length}, break no promise):`);
    for (const note of r.notes.slice(0, 10)) lines.push(`    - ${note}`);
  }
  if (r.violations.length > 0) {
    const byCheck = new Map<string, Violation[]>();
    for (const v of r.violations) byCheck.set(v.check, [...(byCheck.get(v.check) ?? []), v]);
    lines.push('  violations:');
    for (const [check, list] of byCheck) {
      lines.push(`    ${check}: ${list.length}`);
      for (const v of list.slice(0, 5)) {
        lines.push(`      - case ${v.caseNo ?? '-'}: ${v.detail}${repro(v)}`);
        if (v.input) lines.push(`        input: ${v.input.slice(0, 500)}`);
      }
    }
  }
  return lines.join('\n');
}
