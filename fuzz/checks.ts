import { io } from 'socket.io-client';
import type { AsyncMessage } from 'rabbitmq-client';
import type { FuzzAmqp } from './amqp-side.js';
import type { AmqpLedger, LedgerEntry } from './ledger.js';
import { userToken } from './tokens.js';

/** One broken promise found by a final check. */
export interface CheckFailure {
  check: string;
  detail: string;
  caseNo?: number;
}

/** GET /api/v1/socket/health must answer 200 `{ success: true, data: { status: "ok" } }`. */
export async function checkHealth(url: string): Promise<CheckFailure[]> {
  try {
    const res = await fetch(`${url}/api/v1/socket/health`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { success?: boolean; data?: { status?: string } };
    if (res.status === 200 && body.success === true && body.data?.status === 'ok') return [];
    return [{ check: 'health', detail: `HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}` }];
  } catch (err) {
    return [{ check: 'health', detail: `no answer: ${(err as Error).message}` }];
  }
}

interface Updated {
  eventId: string;
  seq: number;
  tripId: string;
}

/**
 * A fresh, well-behaved client (socket.io-client) joins a trip; `count` trip.updated events published
 * through RabbitMQ must all reach it, in publish order, with consecutive `seq` after the join's head.
 */
export async function checkDelivery(url: string, amqp: FuzzAmqp, seed: number, count = 20): Promise<CheckFailure[]> {
  const tripId = `fz-final-${seed}-${process.pid}`;
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: await userToken('fz-final', [tripId]) } });
  const received: Updated[] = [];
  socket.on('trip:updated', (message: Updated) => received.push(message));
  const fail = (detail: string): CheckFailure[] => [{ check: 'delivery', detail }];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no `connected` within 10 s')), 10_000);
      socket.once('connected', () => (clearTimeout(timer), resolve()));
      socket.once('connect_error', (err) => (clearTimeout(timer), reject(err)));
    });
    const ack = (await socket.timeout(10_000).emitWithAck('trip:join', { tripId })) as { ok: boolean; seq?: number };
    if (!ack.ok || typeof ack.seq !== 'number') return fail(`trip:join answered ${JSON.stringify(ack)}`);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `fz-final-${seed}-${process.pid}-${i}`;
      ids.push(id);
      const event = { specversion: '1.0', id, source: 'fuzz', type: 'trip.updated', time: new Date().toISOString(), data: { tripId, changes: { n: i } } };
      await amqp.publish('trip.updated', Buffer.from(JSON.stringify(event)), { contentType: 'application/cloudevents+json', messageId: id });
    }
    const deadline = Date.now() + 15_000;
    while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const got = received.map((m) => m.eventId);
    if (got.length !== count || got.some((id, i) => id !== ids[i])) return fail(`expected ${count} events in order, got ${got.length}: ${got.join(',').slice(0, 400)}`);
    const seqs = received.map((m) => m.seq);
    if (seqs.some((s, i) => s !== ack.seq! + 1 + i)) return fail(`seq not consecutive after ${ack.seq}: ${seqs.join(',')}`);
    return [];
  } catch (err) {
    return fail((err as Error).message);
  } finally {
    socket.close();
  }
}

/** What the dead-letter check found, for the report. */
export interface DeadLetterSummary {
  published: number;
  routable: number;
  expected: number;
  deadLettered: number;
  byReason: Record<string, number>;
  /** Differences that break no promise but are worth a look (a reason other than the contract's). */
  notes: string[];
}

const header = (msg: AsyncMessage, name: string) => String(msg.headers?.[name] ?? '');

async function settledCount(amqp: FuzzAmqp, queue: string, deadLetterQueue: string, expected: number): Promise<number> {
  // The bridge's queue empties first; then the dead-letter queue stops growing (or reaches the count).
  const deadline = Date.now() + 30_000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const [ready, dead] = await Promise.all([amqp.messageCount(queue), amqp.messageCount(deadLetterQueue)]);
    if (dead !== last) {
      last = dead;
      stableSince = Date.now();
    }
    if (ready === 0 && (dead >= expected || Date.now() - stableSince > 3_000)) return dead;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/**
 * Nothing is lost silently: every routable body the contract rejects is in the dead-letter queue
 * (by its messageId), and nothing else is. Drains (and so empties) the dead-letter queue.
 */
export async function checkDeadLetters(amqp: FuzzAmqp, ledger: AmqpLedger, queue: string): Promise<{ failures: CheckFailure[]; summary: DeadLetterSummary }> {
  const deadLetterQueue = `${queue}.dead-letter`;
  const expected = ledger.expectedDeadLetters();
  const count = await settledCount(amqp, queue, deadLetterQueue, expected.length);
  const messages = await amqp.drain(deadLetterQueue, count, 20_000);
  const failures: CheckFailure[] = [];
  const notes: string[] = [];
  const byReason: Record<string, number> = {};
  const seen = new Map<string, AsyncMessage>();
  for (const msg of messages) {
    const reason = header(msg, 'x-rejection-reason');
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    const id = String(msg.messageId ?? '');
    if (seen.has(id)) failures.push({ check: 'dead-letters', detail: `dead-lettered twice: ${id}` });
    seen.set(id, msg);
    const entry = ledger.entries.get(id);
    if (!entry) {
      failures.push({ check: 'dead-letters', detail: `a dead letter the fuzzer did not send: id=${id} reason=${reason} detail=${header(msg, 'x-rejection-detail')}` });
    } else if (!entry.routable || !entry.verdict.deadLetter) {
      failures.push({ check: 'dead-letters', caseNo: entry.caseNo, detail: `a ${entry.routable ? 'valid' : 'unroutable'} event was dead-lettered (${reason}: ${header(msg, 'x-rejection-detail')}): key=${entry.routingKey} ct=${entry.contentType ?? '-'} ${entry.preview}` });
    }
  }
  for (const entry of expected) {
    const msg = seen.get(entry.messageId);
    const verdict = entry.verdict as { reason: string };
    if (!msg) {
      failures.push({ check: 'dead-letters', caseNo: entry.caseNo, detail: `not dead-lettered although the contract rejects it (${verdict.reason}): key=${entry.routingKey} ct=${entry.contentType ?? '-'} ${entry.bytes} bytes ${entry.preview}` });
      continue;
    }
    const reason = header(msg, 'x-rejection-reason');
    if (reason !== verdict.reason) notes.push(`case ${entry.caseNo}: dead-lettered as ${reason} (${header(msg, 'x-rejection-detail')}), the contract says ${verdict.reason}; ct=${entry.contentType ?? '-'} ${entry.preview}`);
    if (!header(msg, 'x-rejection-detail')) failures.push({ check: 'dead-letters', caseNo: entry.caseNo, detail: `dead letter without x-rejection-detail (${reason})` });
    checkBody(entry, msg, failures);
  }
  return {
    failures,
    summary: { published: ledger.entries.size, routable: [...ledger.entries.values()].filter((e) => e.routable).length, expected: expected.length, deadLettered: messages.length, byReason, notes },
  };
}

/** "With its original body": byte for byte, where the fuzzer's own reader (rabbitmq-client) hands over bytes: it decodes JSON and text bodies. */
function checkBody(entry: LedgerEntry, msg: AsyncMessage, failures: CheckFailure[]): void {
  if (!entry.body || entry.contentType === 'application/json' || entry.contentType === 'text/plain' || !Buffer.isBuffer(msg.body)) return;
  if (!msg.body.equals(entry.body)) failures.push({ check: 'dead-letters', caseNo: entry.caseNo, detail: `dead-lettered body differs from the one published: ${entry.preview}` });
}
