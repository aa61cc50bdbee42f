import type { ChaosHistory, FaultRecord, Position } from '../history.js';
import type { Findings, PropertyName, RuleName } from './findings.js';
import type { StreamIndex } from './stream-index.js';

/** What every client check shares: the history, the findings, the indexed streams and Redis's state losses. */
export interface Context {
  history: ChaosHistory;
  findings: Findings;
  streams: Map<string, StreamIndex>;
  /** When Redis lost the bridge's state (restart, rollback). */
  stateLossAt: number[];
  stateLoss: FaultRecord[];
}

/** One client in one stream: what a violation found there names. */
export class Scope {
  constructor(
    readonly ctx: Context,
    readonly who: string,
    readonly client: string,
    readonly index: StreamIndex,
  ) {}

  report(property: PropertyName, rule: RuleName, message: string, eventIds: string[] | undefined, t: number | undefined): void {
    const stream = this.index.name;
    this.ctx.findings.add({ property, rule, message: `${this.who} in ${stream}: ${message}`, client: this.client, stream, eventIds, t });
  }

  /** The expected-order index of the event numbered at `position`, when known. */
  indexAt(position: Position | undefined): { index: number; id: string } | undefined {
    const id = position && this.index.idAt(position.epoch, position.seq);
    const index = id === undefined ? undefined : this.index.indexOf.get(id);
    return id === undefined || index === undefined ? undefined : { index, id };
  }
}
