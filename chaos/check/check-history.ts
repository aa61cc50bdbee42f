import type { ChaosHistory } from '../history.js';
import { checkDeadLetters, checkHealth, checkObserved } from './final.js';
import { Findings, PROPERTIES, type PropertyCount, type PropertyName, type Violation } from './findings.js';
import { checkRawClient } from './raw.js';
import type { Context } from './scope.js';
import { indexStreams } from './streams.js';
import { checkTypedClient } from './typed.js';

export interface CheckReport {
  ok: boolean;
  /** Checked items and violations per property, e.g. { typedOrder: { checked: 1234, violations: 0 } } */
  counts: Record<PropertyName, PropertyCount>;
  /** The first violations of each property (capped), oldest first. */
  violations: Violation[];
  stats: {
    published: number;
    valid: number;
    invalid: number;
    republished: number;
    clients: { typed: number; raw: number };
    rawSessions: number;
    /** Typed deliveries and raw events. */
    deliveries: number;
    resyncs: number;
    /** (stream, event) pairs numbered in more than one epoch. */
    renumberedAfterStateLoss: number;
    /** (stream, event) pairs seen by no one, published when no client was in the stream then or later. */
    unobserved: number;
    faults: Record<string, number>;
  };
}

export interface CheckOptions {
  /** Violations kept in the report per property (all are counted); default 20. */
  maxViolationsPerProperty?: number;
}

/** Checks a chaos history against the bridge's delivery promises. */
export function checkHistory(history: ChaosHistory, options: CheckOptions = {}): CheckReport {
  const cap = options.maxViolationsPerProperty ?? 20;
  if (!Number.isInteger(cap) || cap < 0) throw new RangeError(`maxViolationsPerProperty must be a non-negative integer, got ${cap}`);
  const findings = new Findings(cap);
  const streams = indexStreams(history, findings);
  const stateLoss = history.faults.filter((f) => f.kind === 'redis-restart' || f.kind === 'redis-rollback');
  const ctx: Context = { history, findings, streams, stateLossAt: stateLoss.map((f) => f.at), stateLoss };
  let deliveries = 0;
  let resyncs = 0;
  for (const client of history.clients) {
    if (client.kind === 'typed') {
      checkTypedClient(client, ctx);
      for (const e of client.log) {
        if (e.k === 'deliver') deliveries += 1;
        else if (e.k === 'resync') resyncs += 1;
      }
    } else {
      checkRawClient(client, ctx);
      for (const session of client.sessions) deliveries += session.log.filter((e) => e.k === 'event').length;
    }
  }
  const unobserved = checkObserved(ctx);
  checkDeadLetters(history, findings);
  checkHealth(history, findings);

  let renumbered = 0;
  for (const index of streams.values()) {
    for (const positions of index.positions.values()) if (positions.some((p) => p.epoch !== positions[0]?.epoch)) renumbered += 1;
  }
  const faults: Record<string, number> = {};
  for (const fault of history.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;
  const typed = history.clients.filter((c) => c.kind === 'typed').length;
  const valid = history.published.filter((r) => r.valid).length;
  return {
    ok: PROPERTIES.every((p) => findings.counts[p].violations === 0),
    counts: findings.counts,
    violations: findings.oldest(),
    stats: {
      published: history.published.length,
      valid,
      invalid: history.published.length - valid,
      republished: history.published.filter((r) => r.republish).length,
      clients: { typed, raw: history.clients.length - typed },
      rawSessions: history.clients.reduce((n, c) => n + (c.kind === 'raw' ? c.sessions.length : 0), 0),
      deliveries,
      resyncs,
      renumberedAfterStateLoss: renumbered,
      unobserved,
      faults,
    },
  };
}
