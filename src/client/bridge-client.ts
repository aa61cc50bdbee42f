import { io, type Socket } from 'socket.io-client';
import type {
  AckResponse,
  ClientEventName,
  ClientToServerEvents,
  HandshakeAuth,
  JsonObject,
  ServerToClientEvents,
  StreamPosition,
  TripJoinResult,
} from '../../contracts/index.js';
import { Emitter } from './emitter.js';
import { BridgeClientError, unwrap } from './errors.js';
import { NotificationSync } from './notification-sync.js';
import { TripSync } from './trip-sync.js';
import type { BridgeClientEvents, BridgeClientOptions, TokenSource } from './types.js';

/** The typed socket underneath (its `trip:updated` and `notification` are raw: not yet de-duplicated). */
export type BridgeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

type PayloadOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
type AckOf<E extends ClientEventName> = Parameters<NonNullable<Parameters<ClientToServerEvents[E]>[1]>>[0];

/** Server events passed on to the application as they come (the two streams go through their cursors). */
const PASSED_ON = [
  'trip:joined',
  'user:joined',
  'user:left',
  'trip:typing',
  'pong',
  'server:shutdown',
  'request:error',
] as const satisfies (keyof ServerToClientEvents)[];

const resolveToken = async (token: TokenSource) => (typeof token === 'function' ? token() : token);

/**
 * A Socket.IO client for the bridge, typed from `contracts/`: it authenticates with a refreshable
 * token, remembers the trips it joined, rejoins them after every reconnect from the last event it
 * handed out, and so gives the application each trip event (and notification) once, in order.
 */
export class BridgeClient {
  readonly socket: BridgeSocket;
  private readonly events = new Emitter<BridgeClientEvents>();
  private readonly trips: TripSync;
  private readonly notifications: NotificationSync;
  private readonly ackTimeoutMs: number;
  private expired = false;
  private closed = false;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: BridgeClientOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.trips = new TripSync({
      join: (payload) => this.request('trip:join', payload),
      connected: () => this.socket.connected,
      deliver: (event) => this.events.emit('trip:updated', event),
      resync: (tripId, position) => this.events.emit('resync', tripId, position),
      rejoinFailed: (tripId, error) => this.events.emit('rejoin:failed', tripId, error),
    });
    this.notifications = new NotificationSync({
      deliver: (notification) => this.events.emit('notification', notification),
      resync: () => this.events.emit('notifications:resync'),
    });
    // Separate connections by default: two clients in one page must not share (and drop) one.
    this.socket = io(options.url, {
      forceNew: true,
      ...options.socketOptions,
      autoConnect: false,
      // A function, so that every connection attempt fetches the current token and stream position.
      auth: (send) => this.authenticate(send),
    });
    this.wire();
    if (options.socketOptions?.autoConnect !== false) this.socket.connect();
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof BridgeClientEvents>(event: K, listener: BridgeClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  /** Unsubscribes a listener added with `on`. */
  off<K extends keyof BridgeClientEvents>(event: K, listener: BridgeClientEvents[K]): void {
    this.events.off(event, listener);
  }

  /** Opens the connection (only needed with `socketOptions.autoConnect: false`, or after a refusal). */
  connect(): void {
    if (!this.closed) this.socket.connect();
  }

  /**
   * Joins a trip, now or once connected, and resolves with the ack (a trip already joined: its last
   * ack); rejects with a BridgeClientError carrying the contract code, and then forgets the trip.
   */
  joinTrip(tripId: string): Promise<TripJoinResult> {
    return this.trips.join(tripId);
  }

  /** Leaves a trip: it is forgotten at once (no more events, no rejoin), then the server is told. */
  async leaveTrip(tripId: string): Promise<void> {
    if (!this.trips.leave(tripId) || !this.socket.connected) return;
    const ack = await this.request('trip:leave', { tripId });
    // Not in the room is what leaving wanted; a join still in flight ends in the room, though (rare).
    if (!ack.ok && ack.error.code !== 'not_joined') unwrap(ack);
  }

  /** Sends changes to a joined trip; resolves with the upstream event id once the broker has it. */
  async sendUpdate(tripId: string, changes: JsonObject): Promise<{ eventId: string }> {
    // Sent before the trip is rejoined, the update would only come back `not_joined`.
    if (this.socket.connected && !this.trips.isJoined(tripId)) {
      throw new BridgeClientError('not_joined', `trip ${tripId} is not joined (yet)`);
    }
    return unwrap(await this.request('trip:update', { tripId, changes }));
  }

  /** Tells the others in a trip whether this user is typing. Fire and forget: lost when offline. */
  setTyping(tripId: string, typing: boolean): void {
    if (this.trips.isJoined(tripId)) this.socket.volatile.emit('trip:typing', { tripId, typing });
  }

  /** Fetches the token again and hands it to the server; resolves with its expiry (undefined offline). */
  async refreshToken(): Promise<{ expiresAt: string } | undefined> {
    const token = await resolveToken(this.options.token);
    // Offline, the next handshake fetches the token anyway.
    if (!this.socket.connected) return undefined;
    return unwrap(await this.request('auth:refresh', { token }));
  }

  /** The last position handed to the application for a trip, or undefined before its first join. */
  tripPosition(tripId: string): StreamPosition | undefined {
    return this.trips.position(tripId);
  }

  /** The trips the client is in (and will rejoin after a reconnect). */
  joinedTrips(): string[] {
    return this.trips.tripIds();
  }

  /** Disconnects for good: no reconnection, pending joins reject with `unavailable`. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.trips.close(new BridgeClientError('unavailable', 'the client was closed'));
    this.socket.disconnect();
    this.events.clear();
  }

  private wire(): void {
    const socket = this.socket;
    socket.on('connect', () => {
      this.reconnectAttempt = 0;
      this.expired = false;
      this.trips.connected();
    });
    socket.on('disconnect', (reason) => {
      this.trips.disconnected();
      this.events.emit('disconnect', reason);
      // Socket.IO does not come back by itself after a server-side disconnect; after an expiry it is
      // worth it when the token function can give a fresh token (the handshake calls it).
      const refreshable = typeof this.options.token === 'function';
      if (reason === 'io server disconnect' && this.expired && refreshable && !this.closed) {
        this.expired = false;
        socket.connect();
      }
    });
    socket.on('connect_error', (error) => this.refused(error));
    socket.on('connected', (payload) => {
      this.notifications.connected(payload.notificationsRecovered, payload.notificationsHead);
      this.events.emit('connected', payload);
    });
    socket.on('trip:updated', (event) => this.trips.receive(event));
    socket.on('notification', (notification) => this.notifications.receive(notification));
    socket.on('trip:left', (payload) => {
      if (payload.reason !== 'left') this.trips.removed(payload.tripId);
      this.events.emit('trip:left', payload);
    });
    socket.on('auth:expired', (payload) => {
      this.expired = true;
      this.events.emit('auth:expired', payload);
    });
    for (const event of PASSED_ON) this.passOn(event);
  }

  private passOn<K extends (typeof PASSED_ON)[number]>(event: K): void {
    const listener = (...args: Parameters<BridgeClientEvents[K]>) => this.events.emit(event, ...args);
    // The socket's and the client's maps agree on these events; TypeScript cannot relate the two generics.
    this.socket.on(event, listener as never);
  }

  /** The `auth` callback: socket.io-client calls it on every connection attempt. */
  private authenticate(send: (data: object) => void): void {
    const since = this.notifications.handshake();
    resolveToken(this.options.token).then(
      (token) => send((since ? { token, notificationsSince: since } : { token }) satisfies HandshakeAuth),
      (err: unknown) => {
        // No token now: drop this attempt and try again later, as after a refusal.
        this.events.emit('connect_error', err instanceof Error ? err : new Error(String(err)));
        this.socket.disconnect();
        this.scheduleReconnect();
      },
    );
  }

  /** A failed connection attempt; after a refusal by the server, socket.io-client stops retrying. */
  private refused(error: Error & { data?: { code?: string } }): void {
    this.events.emit('connect_error', error);
    if (this.socket.active || this.closed) return;
    const code = error.data?.code;
    const tokenMayChange = code === 'token_expired' && typeof this.options.token === 'function';
    if (code === 'rate_limited' || tokenMayChange) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.reconnectAttempt++) * (0.5 + Math.random() / 2);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Emits with an acknowledgement; a missing answer or no connection becomes an `unavailable` failure. */
  private async request<E extends ClientEventName>(event: E, payload: PayloadOf<E>): Promise<AckOf<E>> {
    const failure = (message: string) => ({ ok: false, error: { code: 'unavailable', message } }) as AckOf<E>;
    if (!this.socket.connected) return failure('not connected');
    // The typed emitWithAck cannot see through the optional ack parameter of the contract's map.
    const emitter = this.socket.timeout(this.ackTimeoutMs) as unknown as {
      emitWithAck(event: E, payload: PayloadOf<E>): Promise<AckResponse<object>>;
    };
    try {
      return (await emitter.emitWithAck(event, payload)) as AckOf<E>;
    } catch (err) {
      return failure(`no answer to ${event}: ${(err as Error).message}`);
    }
  }
}

/** Creates a client and starts connecting (unless `socketOptions.autoConnect` is false). */
export function createBridgeClient(options: BridgeClientOptions): BridgeClient {
  return new BridgeClient(options);
}
