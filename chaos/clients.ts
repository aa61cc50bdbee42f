import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type {
  AckResponse,
  ClientToServerEvents,
  NotificationMessage,
  ServerToClientEvents,
  StreamPosition,
  TripJoinResult,
  TripUpdatedMessage,
} from '../contracts/index.js';
import { createBridgeClient, type BridgeClient } from '../src/client/index.js';
import { CHAOS_SECRET } from './deployment.js';
import type { Position, RawClientRecord, RawLogEntry, RawSession, TypedClientRecord, TypedLogEntry } from './history.js';
import type { Rng } from './rng.js';

type RawSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token for `userId` that lists `trips`, valid for the whole campaign. */
export function chaosToken(userId: string, trips: string[], role: 'user' | 'admin' = 'user'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ trips, role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuer('group-planner-api')
    .setAudience('group-planner-client')
    .setIssuedAt(now)
    .setExpirationTime(now + 6 * 3600)
    .sign(new TextEncoder().encode(CHAOS_SECRET));
}

/** What every campaign client does: act now and then (go offline, change trips), and report its history. */
export interface ChaosClient {
  readonly id: string;
  start(): Promise<void>;
  /** One step of behaviour, drawn from the campaign's generator. */
  act(rng: Rng): Promise<void>;
  /** Comes back online (healing) and stays. */
  heal(): Promise<void>;
  /** Total events received so far (for quiescence). */
  received(): number;
  record(): TypedClientRecord | RawClientRecord;
  close(): void;
}

/**
 * A client built on the typed client (`src/client`), as an application uses it: it joins trips,
 * goes offline and comes back, leaves a trip and joins another; its log is what the application was
 * handed, in order.
 */
export class TypedChaosClient implements ChaosClient {
  private client!: BridgeClient;
  private readonly log: TypedLogEntry[] = [];
  private readonly joined = new Set<string>();
  private deliveries = 0;
  private offline = false;

  constructor(
    readonly id: string,
    private readonly userId: string,
    private readonly url: string,
    /** Every trip this user may join; `initial` of them at the start. */
    private readonly trips: string[],
    private readonly initial: number,
  ) {}

  async start(): Promise<void> {
    this.client = createBridgeClient({
      url: this.url,
      token: await chaosToken(this.userId, this.trips),
      socketOptions: { transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 2_000 },
      ackTimeoutMs: 15_000,
    });
    const t = Date.now;
    const c = this.client;
    c.on('trip:updated', (e) => this.deliver(`trip:${e.tripId}`, e));
    c.on('notification', (n) => {
      if (n.seq !== undefined && n.epoch !== undefined) this.deliver(`user:${this.userId}`, n as NotificationMessage & Position);
    });
    c.on('resync', (tripId, p) => this.log.push({ t: t(), k: 'resync', stream: `trip:${tripId}`, seq: p.seq, epoch: p.epoch }));
    c.on('notifications:resync', () => this.log.push({ t: t(), k: 'resync', stream: `user:${this.userId}` }));
    c.on('trip:left', ({ tripId, reason }) => {
      if (reason === 'left') return;
      this.joined.delete(tripId);
      this.log.push({ t: t(), k: 'removed', stream: `trip:${tripId}`, reason });
    });
    c.on('rejoin:failed', (tripId, err) => {
      this.joined.delete(tripId);
      this.log.push({ t: t(), k: 'removed', stream: `trip:${tripId}`, reason: `rejoin failed: ${err.code}` });
    });
    c.socket.on('connect', () => this.log.push({ t: t(), k: 'connect', instance: 'balancer' }));
    c.on('disconnect', (reason) => this.log.push({ t: t(), k: 'disconnect', reason }));
    // The user stream is joined at every handshake: its segment spans the whole run.
    this.log.push({ t: t(), k: 'join', stream: `user:${this.userId}`, seq: -1, epoch: '' });
    for (const tripId of this.trips.slice(0, this.initial)) await this.join(tripId);
  }

  async act(rng: Rng): Promise<void> {
    const roll = rng.next();
    if (roll < 0.3 && !this.offline) {
      // Offline for a while (a phone in a tunnel), then back: the client rejoins with `since`.
      this.offline = true;
      this.client.socket.disconnect();
      await sleep(rng.int(500, 8_000));
      this.client.connect();
      this.offline = false;
    } else if (roll < 0.45 && this.joined.size > 1) {
      const tripId = rng.pick([...this.joined]);
      this.joined.delete(tripId);
      this.log.push({ t: Date.now(), k: 'leave', stream: `trip:${tripId}` });
      await this.client.leaveTrip(tripId).catch(() => undefined);
    } else if (roll < 0.6) {
      const free = this.trips.filter((tripId) => !this.joined.has(tripId));
      if (free.length > 0) await this.join(rng.pick(free));
    }
  }

  async heal(): Promise<void> {
    if (!this.client.socket.connected) this.client.connect();
    const deadline = Date.now() + 30_000;
    while (!this.client.socket.connected && Date.now() < deadline) await sleep(100);
  }

  received(): number {
    return this.deliveries;
  }

  record(): TypedClientRecord {
    const streams: Record<string, Position | null> = {};
    for (const tripId of this.client.joinedTrips()) streams[`trip:${tripId}`] = this.client.tripPosition(tripId) ?? null;
    return { kind: 'typed', id: this.id, userId: this.userId, log: this.log, final: { connected: this.client.socket.connected, streams } };
  }

  close(): void {
    this.client.close();
  }

  /** The join is logged before anything it leads to is handed out; its position is filled in from the ack. */
  private async join(tripId: string): Promise<void> {
    const entry: TypedLogEntry & { k: 'join' } = { t: Date.now(), k: 'join', stream: `trip:${tripId}`, seq: -1, epoch: '' };
    this.log.push(entry);
    this.joined.add(tripId);
    try {
      const ack = await this.client.joinTrip(tripId);
      entry.seq = ack.seq;
      entry.epoch = ack.epoch;
    } catch (err) {
      // A first join refused while an instance is down (`unavailable`): the application tries later.
      this.joined.delete(tripId);
      this.log.push({ t: Date.now(), k: 'removed', stream: `trip:${tripId}`, reason: `join failed: ${(err as Error).message}` });
    }
  }

  private deliver(stream: string, e: { eventId: string; seq: number; epoch: string }): void {
    this.deliveries += 1;
    this.log.push({ t: Date.now(), k: 'deliver', stream, eventId: e.eventId, seq: e.seq, epoch: e.epoch });
  }
}

/**
 * A plain socket.io-client, as a native app or another language's client would be: no reconnection
 * of its own, so each connection is a session of its own; it comes back with `since` (trips) and
 * `notificationsSince` (its user stream) from the last event it saw.
 */
export class RawChaosClient implements ChaosClient {
  private readonly sessions: RawSession[] = [];
  private socket: RawSocket | undefined;
  private session: RawSession | undefined;
  private readonly trips = new Set<string>();
  /** Trips whose latest join of this session was answered ok: the only ones a leave is tried on. */
  private readonly confirmed = new Set<string>();
  /** The latest join attempt per trip: an earlier attempt's failure does not end a later one's segment. */
  private readonly latestJoin = new Map<string, number>();
  private joins = 0;
  private connecting: Promise<void> | undefined;
  /** The last event seen per stream, across sessions. */
  private readonly positions = new Map<string, Position>();
  private events = 0;
  private token = '';
  private stopped = false;

  constructor(
    readonly id: string,
    private readonly userId: string,
    private readonly url: string,
    private readonly allowed: string[],
    initial: number,
  ) {
    for (const tripId of allowed.slice(0, initial)) this.trips.add(tripId);
  }

  async start(): Promise<void> {
    this.token = await chaosToken(this.userId, this.allowed);
    await this.connect();
  }

  async act(rng: Rng): Promise<void> {
    const roll = rng.next();
    if (roll < 0.25 && this.socket?.connected) {
      const socket = this.socket;
      // Forgotten first, so that its disconnect is not taken for a lost connection to come back from.
      this.socket = undefined;
      socket.disconnect();
      await sleep(rng.int(300, 6_000));
      await this.connect();
    } else if (roll < 0.4 && this.confirmed.size > 1 && this.socket?.connected) {
      // The server's `trip:left` (before the ack) says that the socket is out: see `wire`. An ack
      // that failed after the leave took effect must not leave the client believing it is still in.
      await this.request('trip:leave', { tripId: rng.pick([...this.confirmed]) });
    } else if (roll < 0.55 && this.socket?.connected) {
      const free = this.allowed.filter((tripId) => !this.trips.has(tripId));
      if (free.length > 0) {
        const tripId = rng.pick(free);
        this.trips.add(tripId);
        await this.joinTrip(tripId);
      }
    }
  }

  async heal(): Promise<void> {
    if (!this.socket?.connected) await this.connect();
  }

  received(): number {
    return this.events;
  }

  record(): RawClientRecord {
    return { kind: 'raw', id: this.id, userId: this.userId, sessions: this.sessions };
  }

  close(): void {
    this.stopped = true;
    this.socket?.disconnect();
  }

  /** A new session: handshake (with notificationsSince), then every trip (with since). Retries until connected; one at a time. */
  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        if (await this.open()) break;
        await sleep(Math.min(2_000, 200 * 2 ** attempt));
      }
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private open(): Promise<boolean> {
    const userStream = `user:${this.userId}`;
    const since = this.positions.get(userStream);
    const socket: RawSocket = io(this.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 10_000,
      auth: since ? { token: this.token, notificationsSince: since } : { token: this.token },
    });
    // The session exists before the handshake: the notifications replayed before `connected` are its first events.
    const session: RawSession = { instance: 'balancer', connectedAt: Date.now(), log: [] };
    const joined: RawLogEntry & { k: 'joined' } = { t: Date.now(), k: 'joined', stream: userStream, ...(since ? { since } : {}) };
    session.log.push(joined);
    this.session = session;
    this.confirmed.clear();
    this.latestJoin.clear();
    this.socket = socket;
    this.wire(socket, session);
    return new Promise((resolve) => {
      const fail = () => {
        socket.removeAllListeners();
        socket.disconnect();
        if (this.session === session) this.session = undefined;
        if (this.socket === socket) this.socket = undefined;
        resolve(false);
      };
      const timer = setTimeout(fail, 15_000);
      socket.once('connect_error', () => {
        clearTimeout(timer);
        fail();
      });
      socket.once('connected', (payload) => {
        clearTimeout(timer);
        session.connectedAt = Date.now();
        // One session at a time: an earlier one that never saw its disconnect is over now.
        for (const earlier of this.sessions) earlier.disconnectedAt ??= session.connectedAt;
        if (since) joined.recovered = payload.notificationsRecovered === true;
        // Where the user stream stood at the join: the session gets everything after it.
        if (payload.notificationsHead) Object.assign(joined, payload.notificationsHead);
        this.sessions.push(session);
        resolve(true);
        void Promise.all([...this.trips].map((tripId) => this.joinTrip(tripId)));
      });
    });
  }

  private wire(socket: RawSocket, session: RawSession): void {
    const event = (stream: string, e: { eventId: string; seq: number; epoch: string }) => {
      if (this.session !== session) return;
      this.events += 1;
      this.positions.set(stream, { seq: e.seq, epoch: e.epoch });
      this.push({ t: Date.now(), k: 'event', stream, eventId: e.eventId, seq: e.seq, epoch: e.epoch });
    };
    socket.on('trip:updated', (e: TripUpdatedMessage) => event(`trip:${e.tripId}`, e));
    socket.on('notification', (n) => {
      if (n.seq !== undefined && n.epoch !== undefined) event(`user:${this.userId}`, n as NotificationMessage & Position);
    });
    socket.on('trip:left', ({ tripId, reason }) => {
      if (this.session !== session) return;
      this.trips.delete(tripId);
      this.confirmed.delete(tripId);
      this.push({ t: Date.now(), k: 'left', stream: `trip:${tripId}`, reason });
    });
    socket.on('disconnect', () => {
      // Before `connected`, the attempt itself fails and is retried (see `open`).
      if (!this.sessions.includes(session)) return;
      session.disconnectedAt ??= Date.now();
      if (this.session === session) this.session = undefined;
      // Gone without asking (its instance died or stalled): back after a moment, through the balancer.
      if (!this.stopped && this.socket === socket) {
        this.socket = undefined;
        setTimeout(() => void this.connect(), 300);
      }
    });
  }

  /** Joins with `since` = the last event seen of the trip; the entry is logged before the replay arrives. */
  private async joinTrip(tripId: string): Promise<void> {
    const stream = `trip:${tripId}`;
    const since = this.positions.get(stream);
    const entry: RawLogEntry & { k: 'joined' } = { t: Date.now(), k: 'joined', stream, ...(since ? { since } : {}) };
    const session = this.session;
    const attempt = ++this.joins;
    this.latestJoin.set(tripId, attempt);
    session?.log.push(entry);
    const ack = (await this.request('trip:join', since ? { tripId, since } : { tripId })) as AckResponse<TripJoinResult> | undefined;
    if (this.session !== session || this.latestJoin.get(tripId) !== attempt) return;
    if (ack?.ok) {
      entry.seq = ack.seq;
      entry.epoch = ack.epoch;
      if (since) entry.recovered = ack.recovered;
      this.confirmed.add(tripId);
    } else if (ack) {
      // Refused (an instance was unreachable, say): not in the room; the trip is given up until the client picks it again.
      this.trips.delete(tripId);
      session?.log.push({ t: Date.now(), k: 'left', stream, reason: `join failed: ${ack.error.code}` });
    } else if (this.socket) {
      // No answer: the join may still happen. As an application would, drop the connection and start afresh.
      const socket = this.socket;
      this.socket = undefined;
      socket.disconnect();
      void this.connect();
    }
  }

  private push(entry: RawLogEntry): void {
    this.session?.log.push(entry);
  }

  private async request(event: 'trip:join' | 'trip:leave', payload: object): Promise<AckResponse<object> | undefined> {
    const socket = this.socket;
    if (!socket?.connected) return undefined;
    try {
      const emitter = socket.timeout(15_000) as unknown as { emitWithAck(e: string, p: object): Promise<AckResponse<object>> };
      return await emitter.emitWithAck(event, payload);
    } catch {
      return undefined;
    }
  }
}

/** The final audit: a fresh admin socket reads every trip's head and the tail of its history. */
export async function auditTrips(url: string, tripIds: string[], tailSize: number) {
  const socket: RawSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: await chaosToken('chaos-auditor', [], 'admin') } });
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('connect_error', reject);
  });
  const replayed = new Map<string, Array<{ seq: number; eventId: string }>>();
  socket.on('trip:updated', (e) => replayed.get(`trip:${e.tripId}`)?.push({ seq: e.seq, eventId: e.eventId }));
  const emitter = socket.timeout(15_000) as unknown as { emitWithAck(e: string, p: object): Promise<AckResponse<TripJoinResult>> };
  // Paced under the per-socket event budget, and retried when it is spent anyway.
  const ask = async (payload: object): Promise<AckResponse<TripJoinResult>> => {
    for (;;) {
      await sleep(60);
      const ack = await emitter.emitWithAck('trip:join', payload);
      if (ack.ok || ack.error.code !== 'rate_limited') return ack;
      await sleep(500);
    }
  };
  const streams: Record<string, { head: StreamPosition; tail: Array<{ seq: number; eventId: string }> }> = {};
  for (const tripId of tripIds) {
    const first = await ask({ tripId });
    if (!first.ok) throw new Error(`audit join of ${tripId} failed: ${first.error.message}`);
    const stream = `trip:${tripId}`;
    replayed.set(stream, []);
    const since = { seq: Math.max(0, first.seq - tailSize), epoch: first.epoch };
    const second = await ask({ tripId, since });
    const tail = (replayed.get(stream) ?? []).filter((e) => e.seq <= first.seq);
    replayed.delete(stream);
    streams[stream] = { head: { seq: first.seq, epoch: first.epoch }, tail: second.ok && second.recovered ? tail : [] };
  }
  socket.disconnect();
  return streams;
}
