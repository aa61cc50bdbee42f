import { fileURLToPath } from 'node:url';
import type { Children } from '../lib/children.js';
import { Histogram } from '../lib/histogram.js';
import { RpcClient } from '../lib/rpc.js';
import type { CollectResult, ConnectArgs, ConnectResult } from './protocol.js';

const LOAD_CLIENT = fileURLToPath(new URL('./load-client.js', import.meta.url));

export interface PoolConnectResult {
  connected: number;
  failed: number;
  /** Connections per second, from the first handshake started to the last one done. */
  perSecond: number;
  errors: Record<string, number>;
}

export interface StepDeliveries {
  histogram: Histogram;
  lastAt: number;
}

/** The load-client processes, each holding an equal share of the sockets. */
export class ClientPool {
  private constructor(private readonly clients: RpcClient[]) {}

  static start(children: Children, processes: number): ClientPool {
    return new ClientPool(Array.from({ length: processes }, () => new RpcClient(children.fork(LOAD_CLIENT).child)));
  }

  /** Opens `total` sockets (clients 0…total-1), shared out over the processes; joins trips when `trips` > 0. */
  async connect(args: Omit<ConnectArgs, 'from' | 'count'> & { total: number }): Promise<PoolConnectResult> {
    const { total, ...rest } = args;
    const share = Math.ceil(total / this.clients.length);
    const results = await Promise.all(
      this.clients.map((client, k) => {
        const from = k * share;
        const count = Math.max(0, Math.min(share, total - from));
        return client.call<ConnectResult>('connect', { ...rest, from, count } satisfies ConnectArgs, args.timeoutMs + 120_000);
      }),
    );
    const startedAt = Math.min(...results.map((r) => r.startedAt));
    const doneAt = Math.max(...results.map((r) => r.doneAt));
    const errors: Record<string, number> = {};
    for (const r of results) for (const [m, n] of Object.entries(r.errors)) errors[m] = (errors[m] ?? 0) + n;
    const connected = results.reduce((sum, r) => sum + r.connected, 0);
    return {
      connected,
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      perSecond: connected / ((doneAt - startedAt) / 1000),
      errors,
    };
  }

  /** Deliveries received so far for `step`, over all processes. */
  async count(step: string): Promise<number> {
    const counts = await Promise.all(this.clients.map((c) => c.call<number>('count', { step })));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The step's merged latency histogram and its last arrival; the clients forget the step. */
  async collect(step: string): Promise<StepDeliveries> {
    const results = await Promise.all(this.clients.map((c) => c.call<CollectResult>('collect', { step })));
    const histogram = new Histogram();
    for (const r of results) histogram.merge(r.histogram);
    return { histogram, lastAt: Math.max(0, ...results.map((r) => r.lastAt)) };
  }

  async disconnect(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.call('disconnect')));
  }

  /** Pids of the client processes. */
  get pids(): number[] {
    return this.clients.map((c) => c.child.pid ?? -1);
  }

  /** Closing the IPC channel makes each process exit (see serveRpc). */
  close(): void {
    for (const c of this.clients) if (c.child.connected) c.child.disconnect();
  }
}
