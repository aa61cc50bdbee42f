import { createAdapter } from '@socket.io/redis-adapter';
import { createClient, type RedisClientType } from 'redis';
import { redactUrl } from './config.js';
import type { Logger } from './logger.js';

/** Start-up could not reach Redis; the message is the one line the service prints. */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/**
 * How long a request to every instance (presence, `/stats`, one user's sockets) waits for the
 * answers: an instance that died is noticed by Redis at once, so a missing answer is a stuck one.
 */
export const CLUSTER_REQUEST_TIMEOUT_MS = 2_000;

/** How long a graceful QUIT may take before the connection is simply dropped. */
export const QUIT_TIMEOUT_MS = 1_000;

/**
 * QUIT on a ready connection, so that Redis answers what is in flight first; otherwise (or when QUIT
 * takes too long) disconnect. A QUIT sent while the client reconnects would wait in its offline queue
 * until Redis is back, holding up a graceful stop for as long as Redis stays away.
 */
async function closeClient(client: RedisClientType): Promise<void> {
  if (!client.isOpen) return;
  if (client.isReady) {
    let timer: NodeJS.Timeout | undefined;
    const quit = client.quit().then(
      () => true,
      () => false,
    );
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), QUIT_TIMEOUT_MS)));
    const quitted = await Promise.race([quit, late]);
    clearTimeout(timer);
    if (quitted) return;
  }
  await client.disconnect().catch(() => undefined);
}

/**
 * Makes a client's command handle its own rejection (logged at debug), for callers that fire and
 * forget it; whoever awaits the promise still sees the failure.
 */
function catchRejections(client: RedisClientType, command: 'publish' | 'unsubscribe' | 'pUnsubscribe', log: Logger): void {
  const send = client[command].bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as Record<string, unknown>)[command] = (...args: unknown[]) => {
    const reply = send(...args);
    reply.catch((err: Error) => log.debug({ event: 'redis.command_failed', command, err: { message: err.message } }, 'Redis command failed'));
    return reply;
  };
}

/** Back-off between reconnect attempts, in ms: 100, 200, … up to 2 s. */
const reconnectStrategy = (retries: number) => Math.min(100 * (retries + 1), 2_000);

/**
 * The Redis connections of one instance when `REDIS_URL` is set: one for the shared state (streams,
 * de-duplication, membership, locks, rate limits) that fails at once while Redis is unreachable, so
 * that events wait in the queue instead of in memory; one that subscribes to the streams' entries
 * (see RedisEntrySubscription); and the publishing and subscribing pair of the Socket.IO Redis
 * adapter (presence, typing, broadcasts, cluster requests), which queues its few publishes until
 * Redis is back.
 */
export class RedisCluster {
  readonly client: RedisClientType;
  readonly entries: RedisClientType;
  readonly adapter: ReturnType<typeof createAdapter>;
  private readonly pub: RedisClientType;
  private readonly sub: RedisClientType;
  private lastError: string | undefined;

  /** @param key what instances of one deployment share: the adapter's channels and the keys' prefix. */
  constructor(
    private readonly url: string,
    readonly key: string,
    logger: Logger,
  ) {
    const log = logger.child({ component: 'redis' });
    const open = (role: string, disableOfflineQueue: boolean) => {
      const client: RedisClientType = createClient({ url, name: `${key}:${role}`, disableOfflineQueue, socket: { reconnectStrategy } });
      let connected = false;
      client.on('ready', () => {
        if (connected) log.info({ event: 'redis.reconnected', role }, 'Redis connection re-established');
        connected = true;
      });
      client.on('error', (err: Error) => {
        this.lastError = err.message;
        // Before the first connection, start() reports the failure in one line; later, every loss is news.
        log[connected ? 'warn' : 'debug']({ event: 'redis.error', role, err: { message: err.message } }, 'Redis connection error');
      });
      return client;
    };
    this.client = open('state', true);
    this.entries = open('entries', false);
    this.pub = open('adapter-pub', false);
    this.sub = open('adapter-sub', false);
    // The adapter publishes, and unsubscribes when Socket.IO closes, without handling the promises. While
    // Redis is away those commands wait in the offline queue, and a stop's disconnect rejects them.
    catchRejections(this.pub, 'publish', log);
    catchRejections(this.sub, 'unsubscribe', log);
    catchRejections(this.sub, 'pUnsubscribe', log);
    this.adapter = createAdapter(this.pub, this.sub, { key: `${key}:socket.io`, requestsTimeout: CLUSTER_REQUEST_TIMEOUT_MS });
  }

  /** True while every connection is up. */
  get connected(): boolean {
    return this.clients().every((c) => c.isReady);
  }

  /** Connects; rejects with a one-line reason naming `REDIS_URL` after `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    const clients = this.clients();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(clients.map((c) => c.connect())), timeout]);
    } catch (err) {
      await this.close();
      const cause = this.lastError ?? (err as Error).message;
      throw new RedisUnreachableError(`Redis is unreachable at REDIS_URL=${redactUrl(this.url)} (${cause}); start it or unset REDIS_URL`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every connection (Socket.IO and the stores first), within QUIT_TIMEOUT_MS even while Redis is away. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.clients().map(closeClient));
  }

  private clients(): RedisClientType[] {
    return [this.client, this.entries, this.pub, this.sub];
  }
}
