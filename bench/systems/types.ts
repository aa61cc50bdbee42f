import type { BenchBroker } from '../lib/broker.js';
import type { Children } from '../lib/children.js';
import type { PaceResult } from '../lib/pacer.js';
import type { BenchRedis } from '../lib/redis-keys.js';

/** Every system, in report order: bridge-redis beside the bridge it is compared with. */
export const SYSTEM_NAMES = ['bridge', 'bridge-redis', 'naive', 'peer', 'ceiling'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];
/** What `--systems` runs when not given: bridge-redis only on request (`--systems=bridge,bridge-redis`). */
export const DEFAULT_SYSTEMS: readonly SystemName[] = ['bridge', 'naive', 'peer', 'ceiling'];

/** Events at a fixed rate for a while; event n goes to trips[n % trips.length]. */
export interface TripPlan {
  rate: number;
  durationMs: number;
  trips: string[];
  step: string;
}

export type BroadcastPlan = Omit<TripPlan, 'trips'>;

/** What every system shares in one run. */
export interface RunContext {
  runId: string;
  children: Children;
  broker: BenchBroker;
  /** Deletes the Redis keys a system left under its prefix (bridge-redis), at its close and at clean-up. */
  redis: BenchRedis;
  amqpUrl: string;
  redisUrl: string;
  /** The HS256 secret every server verifies and every client signs with. */
  secret: string;
}

/** The drain scenario's hooks, for the systems that consume a RabbitMQ queue. */
export interface QueueHooks {
  /** Publishes `count` events into the (stopped) system's queue as fast as confirms allow. */
  fill(count: number): Promise<{ perSecond: number }>;
  depth(): Promise<number>;
  /** Events the running process has handled since it started. */
  processed(): Promise<number>;
}

/**
 * One system under test: a server process to start and stop, and the way its events are sent
 * (typed publisher → RabbitMQ, Redis emitter, or the server's own timer).
 */
export interface System {
  readonly name: SystemName;
  /** Where the load clients connect, once started. */
  readonly url: string;
  /** The server process, once started. */
  readonly pid: number;
  /** Set for the systems that consume RabbitMQ (bridge, bridge-redis, naive). */
  readonly queue?: QueueHooks;
  /** Declares what it needs (queues) and opens the publisher side. */
  prepare(): Promise<void>;
  /** Starts the server process and resolves once it accepts sockets; returns how long that took. */
  start(): Promise<{ startupMs: number }>;
  /** Stops the server process (SIGTERM, then SIGKILL after a time limit). */
  stop(): Promise<void>;
  sendTrips(plan: TripPlan): Promise<PaceResult>;
  sendBroadcasts(plan: BroadcastPlan): Promise<PaceResult>;
  /** Waits until nothing sent earlier is still on its way (a queue backlog after an overload). */
  quiesce(timeoutMs: number): Promise<void>;
  /** Closes the publisher side (and deletes its Redis keys); the runner deletes the queues afterwards. */
  close(): Promise<void>;
}
