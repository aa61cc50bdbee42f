import type { PresenceEntry } from '../../contracts/index.js';

/** A user who has no socket left in a room (the last one left, or its instance stopped answering). */
export interface Departure {
  room: string;
  userId: string;
}

/**
 * Who is in each room, across instances: per room its sockets' users, by socket id. Nothing of a
 * socket's handshake is kept (no token, header or cookie): a user id and a display name. Each call
 * costs the same whatever the room's size, except that `enter` answers with the room's users.
 */
export interface PresenceStore {
  /** The socket entered the room: whether it is its user's first socket there, and who is in the room now. */
  enter(room: string, socketId: string, user: PresenceEntry): Promise<EnterResult>;
  /** The socket left the room (or is disconnecting). */
  leave(room: string, socketId: string): Promise<LeaveResult>;
  /**
   * Confirms that these sockets are still in the room (called periodically for every local room):
   * entries not confirmed in time belong to an instance that is gone, and are dropped.
   */
  refresh(room: string, sockets: Array<{ socketId: string; user: PresenceEntry }>): Promise<Departure[]>;
}

/** `departed`: users whose entries had expired (their instance is gone), found on the way. */
export interface EnterResult {
  first: boolean;
  /** Every user with a socket in the room, this one included, once each. */
  users: PresenceEntry[];
  departed: Departure[];
}

export interface LeaveResult {
  /** The socket's user, when the socket was in the room. */
  userId?: string;
  /** True when that was the user's last socket in the room. */
  last: boolean;
  departed: Departure[];
}

interface RoomUsers {
  /** socket id → user id */
  sockets: Map<string, string>;
  /** user id → entry and how many of their sockets are in the room */
  users: Map<string, { entry: PresenceEntry; sockets: number }>;
}

/** Presence of one instance, in memory: its sockets are all there is, and leave when they disconnect. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly rooms = new Map<string, RoomUsers>();

  async enter(room: string, socketId: string, user: PresenceEntry): Promise<EnterResult> {
    let r = this.rooms.get(room);
    if (!r) this.rooms.set(room, (r = { sockets: new Map(), users: new Map() }));
    let first = false;
    if (!r.sockets.has(socketId)) {
      r.sockets.set(socketId, user.userId);
      const known = r.users.get(user.userId);
      if (known) known.sockets += 1;
      else r.users.set(user.userId, { entry: user, sockets: 1 });
      first = !known;
    }
    return { first, users: [...r.users.values()].map((u) => u.entry), departed: [] };
  }

  async leave(room: string, socketId: string): Promise<LeaveResult> {
    const r = this.rooms.get(room);
    const userId = r?.sockets.get(socketId);
    if (!r || userId === undefined) return { last: false, departed: [] };
    r.sockets.delete(socketId);
    const known = r.users.get(userId)!;
    known.sockets -= 1;
    if (known.sockets > 0) return { userId, last: false, departed: [] };
    r.users.delete(userId);
    if (r.users.size === 0) this.rooms.delete(room);
    return { userId, last: true, departed: [] };
  }

  async refresh(): Promise<Departure[]> {
    return [];
  }
}
