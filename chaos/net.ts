import { connect, createServer, type Server, type Socket } from 'node:net';

/** Listens on a free loopback port; resolves with the server and its port. */
async function listenLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Pipes one accepted connection to `port`; `delayMs()` is read for every chunk, both ways. */
function pipe(client: Socket, port: number, delayMs: () => number, pairs: Set<Socket>): void {
  const upstream = connect({ host: '127.0.0.1', port });
  pairs.add(client).add(upstream);
  const end = () => {
    pairs.delete(client);
    pairs.delete(upstream);
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  // Latency, not a bottleneck: each chunk leaves `delay` after it arrived, in arrival order (one FIFO, one timer).
  const forward = (from: Socket, to: Socket) => {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.due <= Date.now()) if (!to.destroyed) to.write(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - Date.now());
    };
    from.on('data', (chunk: Buffer) => {
      const delay = delayMs();
      if (delay <= 0 && queue.length === 0) return void to.write(chunk);
      queue.push({ due: Date.now() + Math.max(0, delay), chunk });
      timer ??= setTimeout(flush, Math.max(0, queue[0]!.due - Date.now()));
    });
  };
  forward(client, upstream);
  forward(upstream, client);
}

/**
 * A TCP proxy in front of one server (an instance's Redis): it can cut every connection and refuse
 * new ones for a while (unreachable), or delay every chunk (latency).
 */
export class FaultyLink {
  private readonly server: Server;
  private readonly pairs = new Set<Socket>();
  private down = false;
  private latencyMs = 0;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      if (this.down) return client.destroy();
      pipe(client, this.targetPort, () => this.latencyMs, this.pairs);
    });
  }

  async start(): Promise<this> {
    this.port = await listenLoopback(this.server);
    return this;
  }

  cut(): void {
    this.down = true;
    for (const socket of this.pairs) socket.destroy();
    this.pairs.clear();
  }

  restore(): void {
    this.down = false;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The clients' load balancer: each new connection goes to the next upstream that accepts it, so that
 * a client whose instance went away lands on another when it reconnects. Websocket-only clients need
 * no stickiness.
 */
export class Balancer {
  private readonly server: Server;
  private readonly pairs = new Set<Socket>();
  private upstreams: number[] = [];
  private next = 0;
  port = 0;

  constructor() {
    this.server = createServer((client) => this.route(client));
  }

  async start(): Promise<this> {
    this.port = await listenLoopback(this.server);
    return this;
  }

  add(port: number): void {
    if (!this.upstreams.includes(port)) this.upstreams.push(port);
  }

  /** Takes an upstream out of the rotation (its open connections end with it). */
  remove(port: number): void {
    this.upstreams = this.upstreams.filter((p) => p !== port);
  }

  private route(client: Socket): void {
    const candidates = this.upstreams.slice();
    if (candidates.length === 0) return void client.destroy();
    const port = candidates[this.next++ % candidates.length]!;
    pipe(client, port, () => 0, this.pairs);
  }

  async close(): Promise<void> {
    for (const socket of this.pairs) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
