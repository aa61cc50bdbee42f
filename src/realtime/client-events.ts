import type { z } from 'zod';
import {
  clientEventSchemas,
  issueText,
  type AckResponse,
  type ClientEventName,
} from '../../contracts/index.js';
import { rooms } from '../../consumers/ports.js';
import { canJoinTrip } from '../auth/access.js';
import { userFromClaims } from '../auth/user.js';
import { TokenError, type VerifyToken } from '../auth/verify-token.js';
import { InvalidEventError, PublishUnavailableError, type EventPublisher } from '../broker/publisher.js';
import { BridgeError, toErrorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { MembershipStore } from '../state/stores.js';
import type { Streams } from '../state/streams.js';
import type { TripPresence } from './presence.js';
import { replayAndJoin } from './recovery.js';
import type { RoomFeeds } from './room-feeds.js';
import type { SocketGuard } from './socket-guard.js';
import type { BridgeServer, BridgeSocket } from './types.js';

export interface ClientEventDeps {
  io: BridgeServer;
  streams: Streams;
  feeds: RoomFeeds;
  presence: TripPresence;
  membership: MembershipStore;
  publisher: EventPublisher;
  verifyToken: VerifyToken;
  metrics: Metrics;
  logger: Logger;
  guard: SocketGuard;
}

type AckFn = (response: AckResponse<object>) => void;

const KNOWN_EVENTS = new Set<string>(Object.keys(clientEventSchemas));

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? issueText(issue, '', 'payload') : 'invalid payload';
}

const serverTime = () => new Date().toISOString();

/** The `tripId` a payload names, for the audit line of a refusal (only when it is a plausible id). */
function tripIdOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || !Object.hasOwn(payload, 'tripId')) return undefined;
  const tripId = (payload as { tripId: unknown }).tripId;
  return typeof tripId === 'string' ? tripId.slice(0, 128) : undefined;
}

type Listener = (this: BridgeSocket, ...args: unknown[]) => Promise<void>;

/**
 * Builds the contract's client-event listeners once per server and returns the function that puts
 * them on each socket. The listeners read their socket from `this` (Socket.IO calls them that way),
 * so a connection costs no closures of its own. Every failure is answered, none thrown.
 */
export function createClientEvents(deps: ClientEventDeps): (socket: BridgeSocket) => void {
  const { streams, guard, presence } = deps;
  const log = deps.logger.child({ component: 'client-events' });
  /** Every event, known or not, spends the socket's and the user's budgets first. */
  const spend = (socket: BridgeSocket, event: string) =>
    guard.limiter.checkEvent({ socketId: socket.id, userId: socket.data.user.id, address: socket.data.address }, event);

  /** A listener that validates the payload, runs the handler, and answers through the ack or `request:error`. */
  function listener<E extends ClientEventName, R extends object>(
    event: E,
    run: (socket: BridgeSocket, payload: z.infer<(typeof clientEventSchemas)[E]['payload']>) => Promise<R> | R,
  ): [ClientEventName, Listener] {
    // The schema of the event's own name: TypeScript cannot narrow the union by a generic key.
    const schema = clientEventSchemas[event].payload as z.ZodType<z.infer<(typeof clientEventSchemas)[E]['payload']>>;
    const answer = async (socket: BridgeSocket, args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as AckFn) : undefined;
      let response: AckResponse<R>;
      try {
        await spend(socket, event);
        const parsed = schema.safeParse(args[0]);
        if (!parsed.success) throw new BridgeError('invalid_payload', describe(parsed.error));
        response = { ok: true, ...(await run(socket, parsed.data)) };
      } catch (err) {
        response = { ok: false, error: toErrorBody(err) };
        deps.metrics.clientErrors.inc({ event, code: response.error.code });
        if (response.error.code === 'internal') {
          log.error({ event: 'client.internal_error', clientEvent: event, socketId: socket.id, err }, 'handler failed');
        }
        if (response.error.code === 'forbidden') {
          guard.audit.record(
            'audit.forbidden',
            {
              userId: socket.data.user.id,
              address: socket.data.address,
              socketId: socket.id,
              clientEvent: event,
              tripId: tripIdOf(args[0]),
              reason: response.error.message,
            },
            'client event forbidden',
          );
        }
      }
      if (ack) ack(response);
      else if (!response.ok) socket.emit('request:error', { event, ...response.error });
    };
    return [
      event,
      function (this: BridgeSocket, ...args: unknown[]) {
        return answer(this, args);
      },
    ];
  }

  /** Takes the socket out of a trip it may no longer see (a removal it did not hear of, a refreshed token). */
  const removeFrom = async (socket: BridgeSocket, tripId: string) => {
    await socket.leave(rooms.trip(tripId));
    socket.emit('trip:left', { tripId, reason: 'removed' });
    await presence.left(socket, rooms.trip(tripId));
  };

  /**
   * The socket must be in the trip's room (`not_joined`), and may still see the trip: membership is
   * checked again on every event, so that a socket a removal did not reach cannot act on the trip.
   */
  const requireJoined = async (socket: BridgeSocket, tripId: string) => {
    const joined = socket.rooms.has(rooms.trip(tripId));
    if (!(await canJoinTrip(socket.data.user, tripId, deps.membership))) {
      if (joined) await removeFrom(socket, tripId);
      throw new BridgeError('forbidden', `not a member of trip ${tripId}`);
    }
    if (!joined) throw new BridgeError('not_joined', `join trip ${tripId} first`);
  };

  const listeners = [
    listener('trip:join', async (socket, { tripId, since }) => {
      const me = socket.data.user;
      const room = rooms.trip(tripId);
      const wasIn = socket.rooms.has(room);
      const { head, recovered } = await replayAndJoin({
        socket,
        room,
        store: streams.trips,
        lock: streams.lock,
        feeds: deps.feeds,
        // Also for a socket already in the room: the typed client asks again when it sees a gap.
        since,
        send: (message) => socket.emit('trip:updated', message),
        // A removal is recorded before its event takes the trip's lock: checked under it, it cannot be
        // missed. The shared state is asked first, so that a Redis outage answers `unavailable` at once.
        check: async () => {
          if (!(await canJoinTrip(me, tripId, deps.membership))) {
            throw new BridgeError('forbidden', `not a member of trip ${tripId}`);
          }
        },
      });
      // After the lock: presence asks nobody else and waits on no other join.
      let present;
      try {
        present = await presence.entered(socket, room);
      } catch (err) {
        // An error answer changes nothing: out of the room again, unless it was in before.
        if (!wasIn) await socket.leave(room);
        throw err;
      }
      socket.emit('trip:joined', { tripId, seq: head.seq });
      return { tripId, seq: head.seq, epoch: head.epoch, recovered, presence: present };
    }),

    listener('trip:leave', async (socket, { tripId }) => {
      const room = rooms.trip(tripId);
      if (!socket.rooms.has(room)) throw new BridgeError('not_joined', `not in trip ${tripId}`);
      await socket.leave(room);
      socket.emit('trip:left', { tripId, reason: 'left' });
      // The leave took effect: the answer is ok whatever presence says (it logs what it could not announce).
      await presence.left(socket, room);
      return { tripId };
    }),

    listener('trip:update', async (socket, { tripId, changes }) => {
      await requireJoined(socket, tripId);
      try {
        return await deps.publisher.publish('client.trip.update', { tripId, changes, userId: socket.data.user.id });
      } catch (err) {
        if (err instanceof PublishUnavailableError) throw new BridgeError('unavailable', 'the broker cannot take the update now');
        if (err instanceof InvalidEventError) throw new BridgeError('invalid_payload', err.message);
        throw err;
      }
    }),

    listener('trip:typing', async (socket, { tripId, typing }) => {
      await requireJoined(socket, tripId);
      socket.to(rooms.trip(tripId)).volatile.emit('trip:typing', { tripId, userId: socket.data.user.id, typing });
      return { tripId };
    }),

    listener('auth:refresh', async (socket, { token }) => {
      let next;
      try {
        next = userFromClaims(await deps.verifyToken(token));
      } catch (err) {
        if (err instanceof TokenError) throw new BridgeError('unauthorized', err.message);
        throw err;
      }
      if (next.id !== socket.data.user.id) throw new BridgeError('forbidden', 'the new token is for another user');
      socket.data.user = next;
      // The socket now ends at the new token's expiry, not the old one's.
      guard.expiry.track(socket);
      // The new token may grant fewer trips than the old one: the socket leaves those it may not see.
      for (const room of [...socket.rooms].filter((r) => r.startsWith('trip:'))) {
        const tripId = room.slice('trip:'.length);
        if (!(await canJoinTrip(next, tripId, deps.membership))) await removeFrom(socket, tripId);
      }
      return { expiresAt: new Date(next.exp * 1000).toISOString() };
    }),

    listener('ping', (socket) => {
      const now = serverTime();
      socket.emit('pong', { serverTime: now });
      return { serverTime: now };
    }),
  ];

  async function onUnknownEvent(this: BridgeSocket, event: string, ...args: unknown[]) {
    if (KNOWN_EVENTS.has(event)) return;
    const ack = args.at(-1);
    let error: { code: 'invalid_payload' | 'rate_limited' | 'internal'; message: string };
    try {
      // Unknown events spend the budget too: inventing names must not be a way around it.
      await spend(this, String(event));
      error = { code: 'invalid_payload', message: `unknown event ${String(event).slice(0, 64)}` };
    } catch (err) {
      const body = toErrorBody(err);
      error = { code: body.code === 'rate_limited' ? 'rate_limited' : 'internal', message: body.message };
    }
    deps.metrics.clientErrors.inc({ event: 'unknown', code: error.code });
    if (typeof ack === 'function') (ack as AckFn)({ ok: false, error });
    else this.emit('request:error', { event: String(event).slice(0, 64), ...error });
  }

  function onDisconnecting(this: BridgeSocket) {
    // Copied now: Socket.IO empties socket.rooms once this listener returns.
    for (const room of this.rooms) if (room.startsWith('trip:')) void presence.left(this, room);
  }

  return (socket) => {
    // The typed map describes what well-behaved clients send; the listeners trust none of it.
    for (const [event, handler] of listeners) socket.on(event, handler as never);
    socket.onAny(onUnknownEvent);
    socket.on('disconnecting', onDisconnecting);
  };
}
