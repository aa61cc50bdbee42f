import type { FinalStream, Position } from '../history.js';
import { at } from './position.js';
import type { Scope } from './scope.js';

/**
 * Completeness rule 2: a client still in a trip at the end stands at its head. A client learns of
 * a new epoch only from an event or a rejoin, so another epoch is excused by a state loss after
 * its last event there.
 */
export function checkAtHead(scope: Scope, position: Position | undefined, lastT: number | undefined): void {
  const { ctx, index } = scope;
  const head = (ctx.history.final.streams[index.name] as FinalStream).head;
  ctx.findings.check('completeness');
  const report = (message: string, eventIds?: string[]) =>
    scope.report('completeness', 'notAtHead', message, eventIds, ctx.history.endedAt);
  if (!position) return report(`ends with no position; the head is ${at(head)}`);
  if (position.epoch === head.epoch) {
    if (position.seq === head.seq) return;
    if (position.seq > head.seq) return report(`ends at ${at(position)}, past the head ${at(head)}`);
    const gap = index.missing(head.epoch, position.seq + 1, head.seq);
    return report(`ends at ${at(position)}, behind the head ${at(head)}: ${gap.text}`, gap.ids);
  }
  if (lastT !== undefined && ctx.stateLossAt.some((t) => t >= lastT)) return;
  report(`ends at ${at(position)}, the head is ${at(head)}, and no redis-restart or redis-rollback came after its last event`);
}
