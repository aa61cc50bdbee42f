import type {
  AckResponse,
  StreamPosition,
  TripJoinPayload,
  TripJoinResult,
  TripUpdatedMessage,
} from '../../contracts/index.js';
import { BridgeClientError, isTransient } from './errors.js';
import { StreamCursor } from './stream-cursor.js';

export interface TripSyncDeps {
  /** Sends `trip:join` and resolves with its ack; a transport failure resolves as a failed ack. */
  join(payload: TripJoinPayload): Promise<AckResponse<TripJoinResult>>;
  /** True while the socket is connected (a join sent otherwise would wait for the next connection). */
  connected(): boolean;
  /** Hands one trip event to the application. */
  deliver(event: TripUpdatedMessage): void;
  /** The trip's position was reset to the server's head: the application must reload the trip. */
  resync(tripId: string, position: StreamPosition): void;
  /** A trip joined earlier could not be joined again after a reconnect, and is forgotten. */
  rejoinFailed(tripId: string, error: BridgeClientError): void;
  /** Delay before retrying a rejoin that failed transiently; `attempt` counts from 0. */
  retryDelayMs?(attempt: number): number;
}

interface Waiter {
  resolve(result: TripJoinResult): void;
  reject(error: BridgeClientError): void;
}

interface TripState {
  cursor: StreamCursor<TripUpdatedMessage>;
  /** On the current connection: not joined, a `trip:join` in flight, or joined. */
  status: 'idle' | 'joining' | 'joined';
  result?: TripJoinResult;
  /** `joinTrip` calls waiting for the first answer. */
  waiters: Waiter[];
  attempt: number;
  retry?: ReturnType<typeof setTimeout>;
}

const defaultRetryDelay = (attempt: number) => Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);

/**
 * The trips a client has joined, and for each its place in the trip's stream. Every connection
 * rejoins them all with `since` = the last event handed out, so the server replays what was missed;
 * the cursor drops the overlap and holds back what arrives ahead of a gap. Knows nothing of
 * Socket.IO: the socket is behind `deps`.
 */
export class TripSync {
  private readonly trips = new Map<string, TripState>();
  /** Counts connections, so that an answer from a previous one is recognised as stale. */
  private connection = 0;

  constructor(private readonly deps: TripSyncDeps) {}

  /** Joins a trip (now, or as soon as connected) and resolves with the first join's ack. */
  join(tripId: string): Promise<TripJoinResult> {
    const known = this.trips.get(tripId);
    if (known?.status === 'joined' && known.result) return Promise.resolve(known.result);
    return new Promise((resolve, reject) => {
      const state = known ?? this.add(tripId);
      state.waiters.push({ resolve, reject });
      if (state.status === 'idle' && !state.retry && this.deps.connected()) void this.send(tripId, state);
    });
  }

  /** Forgets a trip; true when the socket may be in its room (so `trip:leave` is worth sending). */
  leave(tripId: string): boolean {
    const state = this.trips.get(tripId);
    if (!state) return false;
    this.forget(tripId, new BridgeClientError('not_joined', `left trip ${tripId} before the join completed`));
    return state.status !== 'idle';
  }

  /** The server took the socket out of the trip (removed, deleted): never rejoin it. */
  removed(tripId: string): void {
    this.forget(tripId, new BridgeClientError('forbidden', `no longer a member of trip ${tripId}`));
  }

  /** Takes a `trip:updated` from the socket and hands the application what is now in order. */
  receive(event: TripUpdatedMessage): void {
    const state = this.trips.get(event.tripId);
    // Not a trip of ours (any more): a straggler sent before a leave was answered.
    if (!state) return;
    for (const next of state.cursor.push(event)) this.deps.deliver(next);
    // A gap or a new epoch on a live stream: ask the server to fill it, or to say it cannot.
    if (state.cursor.waiting && state.status === 'joined' && this.deps.connected()) void this.send(event.tripId, state);
  }

  /** A connection opened: (re)join every trip. */
  connected(): void {
    this.connection += 1;
    for (const [tripId, state] of this.trips) {
      this.cancelRetry(state);
      state.attempt = 0;
      void this.send(tripId, state);
    }
  }

  /** The connection dropped: no trip is joined any more, and answers still due are stale. */
  disconnected(): void {
    this.connection += 1;
    for (const state of this.trips.values()) {
      state.status = 'idle';
      this.cancelRetry(state);
    }
  }

  /** Where the application stands in a trip's stream, or undefined before its first join. */
  position(tripId: string): StreamPosition | undefined {
    return this.trips.get(tripId)?.cursor.position;
  }

  /** The trips that will be rejoined on the next connection. */
  tripIds(): string[] {
    return [...this.trips.keys()];
  }

  /** True when the trip is joined on the current connection. */
  isJoined(tripId: string): boolean {
    return this.trips.get(tripId)?.status === 'joined';
  }

  /** Forgets every trip; pending joins reject with `error`. */
  close(error: BridgeClientError): void {
    for (const tripId of [...this.trips.keys()]) this.forget(tripId, error);
  }

  private add(tripId: string): TripState {
    const state: TripState = { cursor: new StreamCursor(), status: 'idle', waiters: [], attempt: 0 };
    this.trips.set(tripId, state);
    return state;
  }

  private async send(tripId: string, state: TripState): Promise<void> {
    const connection = this.connection;
    state.status = 'joining';
    const since = state.cursor.position;
    const ack = await this.deps.join(since ? { tripId, since } : { tripId });
    // An answer for a trip left meanwhile, or from a dropped connection: the next connection rejoins.
    if (this.trips.get(tripId) !== state || connection !== this.connection) return;
    if (ack.ok) this.joined(tripId, state, ack);
    else this.failed(tripId, state, new BridgeClientError(ack.error.code, ack.error.message));
  }

  private joined(tripId: string, state: TripState, ack: { ok: true } & TripJoinResult): void {
    const { ok: _ok, ...result } = ack;
    state.status = 'joined';
    state.attempt = 0;
    state.result = result;
    const before = state.cursor.position;
    const head = { seq: result.seq, epoch: result.epoch };
    // The replay (sent before the ack) brought us to the head: carry on. Only when the server says it
    // recovered: a head behind our position in the same epoch means its state went back (Redis came
    // back from an older snapshot), and what it numbers next would look like events already handed out.
    const caughtUp = result.recovered && before !== undefined && before.epoch === head.epoch && before.seq >= head.seq;
    let ready: TripUpdatedMessage[] = [];
    if (!caughtUp) {
      ready = state.cursor.reset(head);
      // A first join starts at the head by definition; a later one lost events the app must reload.
      if (before) this.deps.resync(tripId, head);
    }
    for (const waiter of state.waiters.splice(0)) waiter.resolve(result);
    for (const event of ready) this.deps.deliver(event);
  }

  private failed(tripId: string, state: TripState, error: BridgeClientError): void {
    state.status = 'idle';
    const firstJoin = state.cursor.position === undefined;
    // The application asked for this join and hears the refusal; a rejoin is retried while it may succeed.
    if (firstJoin || !isTransient(error.code)) {
      this.forget(tripId, error);
      if (!firstJoin) this.deps.rejoinFailed(tripId, error);
      return;
    }
    const delay = (this.deps.retryDelayMs ?? defaultRetryDelay)(state.attempt++);
    state.retry = setTimeout(() => {
      state.retry = undefined;
      if (this.trips.get(tripId) === state && state.status === 'idle' && this.deps.connected()) void this.send(tripId, state);
    }, delay);
  }

  private forget(tripId: string, error: BridgeClientError): void {
    const state = this.trips.get(tripId);
    if (!state) return;
    this.trips.delete(tripId);
    this.cancelRetry(state);
    for (const waiter of state.waiters.splice(0)) waiter.reject(error);
  }

  private cancelRetry(state: TripState): void {
    if (state.retry !== undefined) clearTimeout(state.retry);
    state.retry = undefined;
  }
}
