import type { PresenceEntry } from '../../contracts/index.js';
import type { BridgeServer } from './types.js';

/** Every user with a socket in the room, once each. */
export async function presenceIn(io: BridgeServer, room: string): Promise<PresenceEntry[]> {
  const users = new Map<string, PresenceEntry>();
  for (const socket of await io.in(room).fetchSockets()) {
    const { id, name } = socket.data.user;
    if (!users.has(id)) users.set(id, name === undefined ? { userId: id } : { userId: id, name });
  }
  return [...users.values()];
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
