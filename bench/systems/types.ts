import type { BenchBroker } from '../lib/broker.js';
import type { Children } from '../lib/children.js';
import type { PaceResult } from '../lib/pacer.js';

export const SYSTEM_NAMES = ['bridge', 'naive', 'peer', 'ceiling'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

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
  /** Set for the systems that consume RabbitMQ (bridge, naive). */
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
  /** Closes the publisher side; the runner deletes the queues afterwards. */
  close(): Promise<void>;
}
