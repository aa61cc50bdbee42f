import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { getRequestListener } from '@hono/node-server';
import { BRIDGE_SOURCE } from '../contracts/index.js';
import { createDispatcher } from '../consumers/dispatcher.js';
import { routeEvent } from '../consumers/route-event.js';
import { lazyApiDocuments } from './api-docs/index.js';
import { createAudit } from './auth/audit.js';
import { redisRateLimiters, type LimitRule } from './auth/rate-limiter.js';
import { createTokenVerifier } from './auth/verify-token.js';
import { Broker } from './broker/broker.js';
import { DeadLetters } from './broker/dead-letters.js';
import { EventConsumer } from './broker/event-consumer.js';
import { createEventPublisher, PublishUnavailableError, type EventPublisher } from './broker/publisher.js';
import { bridgeTopology } from './broker/topology.js';
import { RedisCluster } from './cluster.js';
import type { Config } from './config.js';
import { createHttpApp } from './http/app.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { OpsMonitor } from './ops/monitor.js';
import { createSocketDirectory } from './realtime/socket-directory.js';
import { RoomFeeds } from './realtime/room-feeds.js';
import { createSocketFanout } from './realtime/socket-fanout.js';
import { SocketGuard } from './realtime/socket-guard.js';
import type { SocketLimits } from './realtime/socket-limits.js';
import { createSocketServer, handleConnections, refuseUnservedMethods } from './realtime/socket-server.js';
import type { BridgeServer } from './realtime/types.js';
import { DEFAULT_HISTORY, DEFAULT_MEMBERSHIP, MemoryDedupeStore, MemoryMembershipStore } from './state/memory-stores.js';
import { createRedisStores } from './state/redis-stores.js';
import { createMemoryStreams, createStreams } from './state/streams.js';
import { MemoryPresenceStore } from './state/presence-store.js';
import { RedisPresenceStore } from './state/redis-presence.js';
import { TripPresence } from './realtime/presence.js';

/** How long start-up waits for RabbitMQ before giving up with one line naming `AMQP_URL`. */
export const BROKER_STARTUP_TIMEOUT_MS = 10_000;

/** How long start-up waits for Redis (when `REDIS_URL` is set), likewise. */
export const REDIS_STARTUP_TIMEOUT_MS = 10_000;

export interface Bridge {
  readonly io: BridgeServer;
  readonly metrics: Metrics;
  /** The port it listens on (the real one when `PORT` is 0), once started. */
  port(): number;
  /** Connects to the broker, listens, then starts consuming. */
  start(): Promise<void>;
  /** Stops consuming, finishes in-flight events, closes sockets, then the broker. Idempotent. */
  close(): Promise<void>;
}

/** Knobs that are not configuration (no env variable): tests tighten or loosen them. */
export interface BridgeTuning {
  socketLimits?: Partial<SocketLimits>;
  testRouteLimit?: LimitRule;
  jwksCooldownMs?: number;
  /** Presence entries' lifetime and refresh period (tests of a gone instance's users). */
  presence?: { ttlMs: number; refreshMs: number };
}

function listen(server: HttpServer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * The composition root of one bridge instance: config → stores → broker → Socket.IO → consumers →
 * HTTP, every dependency passed explicitly, so that a test can build two instances in one process.
 */
export function createBridge(config: Config, logger: Logger, tuning: BridgeTuning = {}): Bridge {
  const startedAt = Date.now();
  const verifyToken = createTokenVerifier({
    secret: config.JWT_SECRET,
    jwksUrl: config.JWT_JWKS_URL,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    jwksCooldownMs: tuning.jwksCooldownMs,
  });
  const history = {
    ...DEFAULT_HISTORY,
    size: config.HISTORY_SIZE,
    maxBytes: config.HISTORY_MAX_BYTES,
    ttlMs: config.HISTORY_TTL_SECONDS * 1000,
  };
  // Instances that share a queue are one deployment: they share the adapter's channels and the keys.
  const cluster = config.REDIS_URL ? new RedisCluster(config.REDIS_URL, config.AMQP_QUEUE, logger) : undefined;
  const shared = cluster ? createRedisStores(cluster.client, cluster.entries, { prefix: `${cluster.key}:`, history }) : undefined;
  const local = shared ? undefined : createMemoryStreams(history);
  const streams = shared
    ? createStreams({
        trips: shared.trips,
        users: shared.users,
        fence: shared.fence,
        lock: shared.lock,
        writeLock: shared.writeLock,
        listen: (sink, resubscribed, wants) => shared.entries.listen(sink, resubscribed ?? (() => undefined), wants),
      })
    : local!;
  const dedupe = shared?.dedupe ?? new MemoryDedupeStore();
  const membership = shared?.membership ?? new MemoryMembershipStore(DEFAULT_MEMBERSHIP, local!.fence);
  const presenceStore = cluster
    ? new RedisPresenceStore(cluster.client, { prefix: `${cluster.key}:`, ttlMs: tuning.presence?.ttlMs })
    : new MemoryPresenceStore();

  // Read on scrape only, after `io` below exists.
  const metrics = new Metrics(() => io.engine.clientsCount);
  // Named per process, so that an operator can tell the instances of one deployment apart.
  const brokerName = `realtime-bridge:${config.AMQP_QUEUE}:${hostname()}:${process.pid}`;
  const broker = new Broker(config.AMQP_URL, brokerName, logger.child({ component: 'broker' }), metrics);
  const eventPublisher = createEventPublisher({
    connection: broker.publish,
    exchange: config.AMQP_EXCHANGE,
    source: BRIDGE_SOURCE,
  });
  const publisher: EventPublisher = {
    get connected() {
      return eventPublisher.connected;
    },
    async publish(type, data, options) {
      // Clients and HTTP callers get `unavailable` at once rather than waiting for a reconnect.
      if (!broker.connected) throw new PublishUnavailableError('the broker is unreachable');
      const result = await eventPublisher.publish(type, data, options);
      metrics.published.inc({ type });
      return result;
    },
    close: () => eventPublisher.close(),
  };

  const audit = createAudit(logger, metrics);
  const guard = new SocketGuard({
    audit,
    metrics,
    logger,
    limits: {
      socketsPerUser: config.MAX_SOCKETS_PER_USER,
      handshakesPerAddress: { points: config.HANDSHAKES_PER_ADDRESS, durationSeconds: 5 },
      ...tuning.socketLimits,
    },
    limiters: cluster ? redisRateLimiters(cluster.client, `${cluster.key}:limit:`) : undefined,
    pending: { bytes: config.MAX_PENDING_BYTES_PER_SOCKET },
    trustedProxies: config.TRUST_PROXY,
  });
  const io = createSocketServer({
    corsOrigins: config.FRONTEND_URLS,
    cookieName: config.JWT_COOKIE_NAME,
    verifyToken,
    metrics,
    logger,
    guard,
  });
  if (cluster) io.adapter(cluster.adapter);
  const presence = new TripPresence(io, presenceStore, logger, tuning.presence?.refreshMs);
  const feeds = new RoomFeeds(io, { streams, membership, presence, metrics, logger });
  handleConnections(io, { io, streams, feeds, presence, membership, publisher, verifyToken, metrics, logger, guard });

  const fanout = createSocketFanout(io, metrics);
  const topology = bridgeTopology(config.AMQP_EXCHANGE, config.AMQP_QUEUE);
  const consumer = new EventConsumer({
    connection: broker.consume,
    topology,
    prefetch: config.AMQP_PREFETCH,
    fence: streams.fence,
    dispatcher: createDispatcher((event, lease) => routeEvent(event, lease, { fanout, streams, membership, dedupe })),
    metrics,
    logger,
  });
  metrics.oldestInFlightSeconds = () => consumer.oldestInFlightSeconds();
  metrics.brokerConnected = () => broker.connected;
  if (cluster) metrics.watchRedis(() => cluster.connected);
  const ops = new OpsMonitor(metrics);

  const app = createHttpApp({
    sockets: createSocketDirectory(io, { clustered: cluster !== undefined, brokerCounts: () => metrics.brokerCounts() }),
    brokerConnected: () => broker.connected,
    redisConnected: cluster ? () => cluster.connected : undefined,
    uptimeSeconds: () => Math.floor((Date.now() - startedAt) / 1000),
    publisher,
    deadLetters: new DeadLetters(broker.publish, topology),
    deadLetterQueue: topology.deadLetterQueue.queue,
    membership,
    verifyToken,
    cookieName: config.JWT_COOKIE_NAME,
    corsOrigins: config.FRONTEND_URLS,
    clientAddress: guard.clientAddress,
    enableTestEndpoints: config.ENABLE_TEST_ENDPOINTS,
    apiDocuments: lazyApiDocuments(config),
    registry: metrics.registry,
    logger,
    audit,
    metrics,
    testRouteLimit: tuning.testRouteLimit,
    ops,
  });
  const server = createServer(getRequestListener(app.fetch));
  io.attach(server);
  refuseUnservedMethods(io);

  const log = logger.child({ component: 'bridge' });
  let closing: Promise<void> | undefined;

  return {
    io: io,
    metrics,
    port: () => (server.address() as AddressInfo | null)?.port ?? config.PORT,
    async start() {
      await cluster?.start(REDIS_STARTUP_TIMEOUT_MS);
      await shared?.entries.start();
      await broker.start(BROKER_STARTUP_TIMEOUT_MS);
      await listen(server, config.PORT);
      await consumer.start();
      presence.start();
      log.info({ event: 'bridge.started', port: this.port(), startupMs: Date.now() - startedAt }, 'bridge started');
    },
    close() {
      closing ??= (async () => {
        log.info({ event: 'bridge.stopping' }, 'stopping: draining in-flight events');
        // Ends the ops page's streams, which would otherwise hold their connections open.
        ops.close();
        await consumer.close();
        // Only this instance's sockets: with the Redis adapter, io.emit would reach every instance's.
        io.local.emit('server:shutdown', { message: 'the server is shutting down; reconnect', serverTime: new Date().toISOString() });
        // Closing the transports (not a Socket.IO disconnect) makes clients reconnect by themselves.
        await io.close();
        guard.close();
        presence.close();
        server.closeAllConnections();
        await publisher.close();
        await broker.close();
        await Promise.all([streams.trips.close(), streams.users.close(), dedupe.close(), membership.close()]);
        await cluster?.close();
        log.info({ event: 'bridge.stopped' }, 'stopped');
      })();
      return closing;
    },
  };
}
