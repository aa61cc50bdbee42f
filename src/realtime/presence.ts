import type { PresenceEntry } from '../../contracts/index.js';
import type { BridgeServer } from './types.js';

/** A presence entry for a user: their id, and their name when the token had one. */
export function presenceOf({ id, name }: { id: string; name?: string | undefined }): PresenceEntry {
  return name === undefined ? { userId: id } : { userId: id, name };
}

/** Every user with a socket in the room, once each, in the order their first socket joined (on every instance). */
export async function presenceIn(io: BridgeServer, room: string): Promise<Map<string, PresenceEntry>> {
  const users = new Map<string, PresenceEntry>();
  for (const socket of await io.in(room).fetchSockets()) {
    if (!users.has(socket.data.user.id)) users.set(socket.data.user.id, presenceOf(socket.data.user));
  }
  return users;
}

/** How many of the user's sockets are in the room, not counting `exceptSocketId`. */
export async function userSocketsIn(
  io: BridgeServer,
  room: string,
  userId: string,
  exceptSocketId?: string,
): Promise<number> {
  let count = 0;
  for (const socket of await io.in(room).fetchSockets()) {
    if (socket.data.user.id === userId && socket.id !== exceptSocketId) count += 1;
  }
  return count;
}
