import { fileURLToPath } from 'node:url';
import { stopChild } from '../lib/children.js';
import { now } from '../lib/clock.js';
import { RpcClient } from '../lib/rpc.js';
import type { RunContext } from './types.js';

/** A comparison server (bench/servers/<name>.ts) run as a child of the runner, with its IPC channel. */
export class ForkedServer {
  private rpcClient: RpcClient | undefined;
  port = 0;

  constructor(
    private readonly ctx: RunContext,
    private readonly name: 'naive' | 'peer' | 'ceiling',
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.rpcClient?.child.pid ?? -1;
  }

  get rpc(): RpcClient {
    if (!this.rpcClient) throw new Error(`the ${this.name} server is not running`);
    return this.rpcClient;
  }

  /** Forks the server and waits for its `ready` (it listens on port 0 and reports the port). */
  async start(): Promise<{ startupMs: number }> {
    const started = now();
    const module = fileURLToPath(new URL(`../servers/${this.name}.js`, import.meta.url));
    const { child, tail } = this.ctx.children.fork(module, { BENCH_SECRET: this.ctx.secret, ...this.env });
    this.rpcClient = new RpcClient(child);
    try {
      this.port = (await this.rpcClient.waitForEvent<{ port: number }>('ready')).port;
    } catch (err) {
      throw new Error(`the ${this.name} server did not start: ${(err as Error).message}\n${tail.text()}`);
    }
    return { startupMs: now() - started };
  }

  async stop(): Promise<void> {
    if (this.rpcClient) await stopChild(this.rpcClient.child);
    this.rpcClient = undefined;
  }
}
