import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, Role, ServerToClientEvents } from '../../contracts/index.js';
import type { ConnectionInfo, InstanceSummary } from './socket-directory.js';

/** Who a socket or request belongs to, from the verified token. */
export interface AuthUser {
  id: string;
  role: Role;
  name?: string | undefined;
  /** Trips the token lists. An array, not a Set: socket data crosses instances as JSON. */
  trips: string[];
  /** Token expiry and issue time, in seconds since the epoch. */
  exp: number;
  iat?: number | undefined;
}

export interface SocketData {
  user: AuthUser;
  connectedAt: string;
  /** The client's address (from X-Forwarded-For behind a trusted proxy), as limits and audit lines use it. */
  address: string;
  /** `polling` or `websocket`, kept current on upgrade. */
  transport: string;
  /** Set when the server cuts the socket for a reason of its own (logged on disconnect). */
  disconnectReason?: 'slow_consumer';
}

/** One instance's sockets, room sizes and broker counters, asked for by `/stats` and `/rooms`. */
export interface InterServerEvents {
  'directory:summary': (ack: (summary: InstanceSummary) => void) => void;
  /** One user's sockets on the answering instance. */
  'directory:connections': (userId: string, ack: (connections: ConnectionInfo[]) => void) => void;
}

export type BridgeServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type BridgeSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** This instance's sockets in a room, as a copy: leaving the room while iterating is safe. */
export function localSocketsIn(io: BridgeServer, room: string): BridgeSocket[] {
  const nsp = io.of('/');
  return [...(nsp.adapter.rooms.get(room) ?? [])].flatMap((id) => nsp.sockets.get(id) ?? []);
}
