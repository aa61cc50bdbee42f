import type { ChaosHistory, RawLogEntry, TypedLogEntry } from '../history.js';
import type { Findings } from './findings.js';
import { StreamIndex } from './stream-index.js';

/** The index of stream `name`, made on first use. */
export function streamOf(streams: Map<string, StreamIndex>, name: string): StreamIndex {
  let index = streams.get(name);
  if (!index) streams.set(name, (index = new StreamIndex(name)));
  return index;
}

/** Expected orders from the publisher's log, then every observation into the global mapping. */
export function indexStreams(history: ChaosHistory, findings: Findings): Map<string, StreamIndex> {
  const streams = new Map<string, StreamIndex>();
  // A republish may be numbered as a new event only when Redis lost its state after the original was sent.
  const lossesEnd = history.faults.filter((f) => f.kind === 'redis-restart' || f.kind === 'redis-rollback').map((f) => f.until ?? f.at);
  const firstSent = new Map<string, number>();
  for (const record of history.published) {
    if (!record.valid) continue;
    const original = firstSent.get(record.id);
    if (original === undefined) firstSent.set(record.id, record.t);
    const renumberable = original !== undefined && lossesEnd.some((end) => end >= original);
    for (const stream of record.streams) streamOf(streams, stream).publish(record.id, record.t, renumberable);
  }
  for (const client of history.clients) {
    const logs = client.kind === 'typed' ? [client.log] : client.sessions.map((s) => s.log);
    for (const log of logs) {
      for (const e of log as Array<TypedLogEntry | RawLogEntry>) {
        if (e.k === 'deliver' || e.k === 'event') streamOf(streams, e.stream).observe(e.eventId, e, e.t, findings);
      }
    }
  }
  for (const [stream, final] of Object.entries(history.final.streams)) {
    const index = streamOf(streams, stream);
    for (const e of final.tail) index.observe(e.eventId, { seq: e.seq, epoch: final.head.epoch }, undefined, findings);
  }
  for (const index of streams.values()) index.checkConsecutive(findings);
  return streams;
}
