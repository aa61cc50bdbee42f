import { io, type Socket } from 'socket.io-client';
import { now } from '../lib/clock.js';
import { stampOf, tripIdOf, userIdOf } from '../lib/events.js';
import { Histogram } from '../lib/histogram.js';
import { serveRpc } from '../lib/rpc.js';
import { signBenchToken } from '../lib/tokens.js';
import type { CollectResult, ConnectArgs, ConnectResult } from './protocol.js';

/**
 * A load-client process: holds its share of the sockets, times every benchmark event it receives
 * against the publisher's stamp, per step, and reports to the runner over IPC. It never runs in the
 * process of a system under test.
 */
const sockets: Socket[] = [];
const steps = new Map<string, { histogram: Histogram; lastAt: number }>();

function onEvent(event: 'trip:updated' | 'notification', payload: unknown): void {
  const stamp = stampOf(event, payload);
  if (!stamp) return;
  const at = now();
  let step = steps.get(stamp.step);
  if (!step) steps.set(stamp.step, (step = { histogram: new Histogram(), lastAt: 0 }));
  step.histogram.record(at - stamp.sentAt);
  step.lastAt = at;
}

/**
 * Every client connects from its own loopback address (127.1.x.y): the bridge budgets handshakes
 * per address, as it should for real users, and 20,000 sockets from one address would be a flood.
 */
function sourceAddress(index: number, spread: number): string {
  const k = index % spread;
  return `127.1.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

/** Opens one socket, waits for `connected`, then (optionally) joins its trip with an ack. */
async function open(args: ConnectArgs, index: number, token: string): Promise<Socket> {
  const socket = io(args.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: args.timeoutMs,
    auth: { token },
    localAddress: sourceAddress(index, args.addressSpread),
  } as Parameters<typeof io>[1]);
  sockets.push(socket);
  socket.on('trip:updated', (payload: unknown) => onEvent('trip:updated', payload));
  socket.on('notification', (payload: unknown) => onEvent('notification', payload));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connected event in time')), args.timeoutMs);
    socket.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => {
      clearTimeout(timer);
      reject(new Error(`connect_error ${err.message}${err.data?.code ? ` (${err.data.code})` : ''}`));
    });
  });
  if (args.trips > 0) {
    const ack = (await socket.timeout(args.timeoutMs).emitWithAck('trip:join', { tripId: tripIdOf(index % args.trips) })) as {
      ok: boolean;
      error?: { code: string };
    };
    if (!ack.ok) throw new Error(`trip:join refused: ${ack.error?.code ?? 'unknown'}`);
  }
  return socket;
}

/** Connects clients from..from+count with at most `concurrency` handshakes in flight. */
async function connect(args: ConnectArgs): Promise<ConnectResult> {
  const indexes = Array.from({ length: args.count }, (_, k) => args.from + k);
  // Signed before the clock starts: the connect rate is the server's, not jose's in this process.
  const tokens = await Promise.all(
    indexes.map((i) => signBenchToken(args.secret, userIdOf(i), args.trips > 0 ? [tripIdOf(i % args.trips)] : [])),
  );
  const errors = new Map<string, number>();
  let connected = 0;
  let next = 0;
  const startedAt = now();
  const worker = async () => {
    while (next < indexes.length) {
      const k = next++;
      try {
        await open(args, indexes[k] ?? 0, tokens[k] ?? '');
        connected += 1;
      } catch (err) {
        const message = (err as Error).message;
        errors.set(message, (errors.get(message) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, indexes.length) }, worker));
  return { connected, failed: args.count - connected, startedAt, doneAt: now(), errors: Object.fromEntries(errors) };
}

serveRpc({
  connect,
  /** Deliveries received so far for a step (polled while the runner waits for stragglers). */
  count: ({ step }: { step: string }) => steps.get(step)?.histogram.count ?? 0,
  collect: ({ step }: { step: string }): CollectResult => {
    const s = steps.get(step);
    steps.delete(step);
    return { histogram: (s?.histogram ?? new Histogram()).toData(), lastAt: s?.lastAt ?? 0 };
  },
  disconnect: () => {
    const closed = sockets.length;
    for (const socket of sockets.splice(0)) socket.disconnect();
    steps.clear();
    return { closed };
  },
});
