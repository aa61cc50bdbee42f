import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, Role, ServerToClientEvents } from '../../contracts/index.js';

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
  /** `polling` or `websocket`, kept current on upgrade. */
  transport: string;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface InterServerEvents {}

export type BridgeServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type BridgeSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
