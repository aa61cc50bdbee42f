import type { ChildProcess } from 'node:child_process';

/** A call from the runner to a child process (load client or comparison server). */
interface RpcRequest {
  rpc: 'call';
  id: number;
  method: string;
  args: unknown;
}

/** Its answer: a result or an error message. */
interface RpcReply {
  rpc: 'reply';
  id: number;
  result?: unknown;
  error?: string;
}

/** An unsolicited message from a child, e.g. `{ rpc: 'event', name: 'ready', data: { port } }`. */
export interface RpcEvent {
  rpc: 'event';
  name: string;
  data: unknown;
}

type Handlers = Record<string, (args: never) => unknown>;

/** The runner's side of a child's IPC channel: calls with a time limit, and the child's events. */
export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: RpcReply | RpcEvent) => {
      if (message.rpc !== 'reply') return;
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) call.reject(new Error(message.error));
      else call.resolve(message.result);
    });
    child.once('exit', (code, signal) => {
      for (const call of this.pending.values()) call.reject(new Error(`child exited (${code ?? signal}) during a call`));
      this.pending.clear();
    });
  }

  /** Calls `method` in the child; rejects after `timeoutMs` or when the child exits. */
  call<T>(method: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const request: RpcRequest = { rpc: 'call', id, method, args };
      this.child.send(request, (err) => {
        if (err) this.pending.get(id)?.reject(err);
      });
    });
  }

  /** Resolves with the data of the child's first event `name`, or rejects after `timeoutMs`. */
  waitForEvent<T>(name: string, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (message: RpcReply | RpcEvent) => {
        if (message.rpc !== 'event' || message.name !== name) return;
        done();
        resolve(message.data as T);
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`child exited (${code}) before '${name}'`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no '${name}' from the child within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }
}

/** The child's side: answers the runner's calls with `handlers`; exits when the runner goes away. */
export function serveRpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this module runs as a child process with an IPC channel (fork)');
  process.on('message', (message: RpcRequest) => {
    if (message?.rpc !== 'call') return;
    const handler = handlers[message.method];
    const reply = (body: Omit<RpcReply, 'rpc' | 'id'>) => process.send?.({ rpc: 'reply', id: message.id, ...body });
    if (!handler) return reply({ error: `unknown method ${message.method}` });
    Promise.resolve()
      .then(() => handler(message.args as never))
      .then(
        (result) => reply({ result }),
        (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
      );
  });
  // An orphaned child would hold sockets and ports: it leaves with its parent.
  process.on('disconnect', () => process.exit(0));
}

/** Sends an unsolicited event to the runner. */
export function emitToParent(name: string, data: unknown = {}): void {
  const event: RpcEvent = { rpc: 'event', name, data };
  process.send?.(event);
}
