import type { PresenceEntry } from '../../contracts/index.js';
import type { Logger } from '../logger.js';
import type { Departure, PresenceStore } from '../state/presence-store.js';
import { localSocketsIn, type BridgeServer, type BridgeSocket } from './types.js';

/** A presence entry for a user: their id, and their name when the token had one. */
export function presenceOf({ id, name }: { id: string; name?: string | undefined }): PresenceEntry {
  return name === undefined ? { userId: id } : { userId: id, name };
}

/** How often an instance confirms its sockets' presence entries (a third of their lifetime). */
export const PRESENCE_REFRESH_MS = 20_000;

const tripIdOf = (room: string) => room.slice('trip:'.length);

/**
 * Who is in each trip, for `user:joined`, `user:left` and the join ack's presence: kept in a store
 * shared by every instance (see PresenceStore), so that no instance asks the others for their sockets
 * (Socket.IO's fetchSockets would ship every socket's handshake, token included, and cost O(room)).
 * Each instance confirms its own sockets' entries periodically; a gone instance's users leave when
 * theirs expire, announced by whichever instance notices.
 */
export class TripPresence {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: BridgeServer,
    private readonly store: PresenceStore,
    logger: Logger,
    private readonly refreshMs = PRESENCE_REFRESH_MS,
  ) {
    this.log = logger.child({ component: 'presence' });
  }

  /** Starts confirming this instance's entries. */
  start(): void {
    this.timer ??= setInterval(() => void this.refreshAll(), this.refreshMs).unref();
  }

  /**
   * The socket is in the trip's room now: its user joins the presence, and the room hears of it when
   * this is the user's first socket there. Answers the presence with the user in it.
   */
  async entered(socket: BridgeSocket, room: string): Promise<PresenceEntry[]> {
    const me = presenceOf(socket.data.user);
    const { first, users, departed } = await this.store.enter(room, socket.id, me);
    this.announce(departed);
    if (first) socket.to(room).emit('user:joined', { tripId: tripIdOf(room), ...me });
    return users;
  }

  /**
   * The socket left the trip's room (or is disconnecting): the room hears `user:left` when it was the
   * user's last socket, unless `quiet` (the caller tells the room itself). Never throws: the socket is
   * out of the room whatever the store says; a lost announcement is logged.
   */
  async left(socket: BridgeSocket, room: string, quiet = false): Promise<void> {
    try {
      const { userId, last, departed } = await this.store.leave(room, socket.id);
      this.announce(departed);
      if (last && userId && !quiet) this.io.to(room).emit('user:left', { tripId: tripIdOf(room), userId });
    } catch (err) {
      this.log.warn({ event: 'presence.leave_failed', room, socketId: socket.id, err: { message: (err as Error).message } }, 'user:left not sent');
    }
  }

  /** Confirms every local socket's entry in every local trip room; announces the users found gone. */
  async refreshAll(): Promise<void> {
    // The names first: rooms come and go during the awaits below.
    const tripRooms = [...this.io.of('/').adapter.rooms.keys()].filter((room) => room.startsWith('trip:'));
    for (const room of tripRooms) {
      const sockets = localSocketsIn(this.io, room).map((socket) => ({ socketId: socket.id, user: presenceOf(socket.data.user) }));
      try {
        this.announce(await this.store.refresh(room, sockets));
      } catch (err) {
        this.log.warn({ event: 'presence.refresh_failed', room, err: { message: (err as Error).message } }, 'presence not confirmed');
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private announce(departed: Departure[]): void {
    for (const { room, userId } of departed) this.io.to(room).emit('user:left', { tripId: tripIdOf(room), userId });
  }
}
