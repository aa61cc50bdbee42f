import { rooms } from '../../consumers/ports.js';
import type { BridgeServer } from './types.js';

export interface RoomInfo {
  name: string;
  members: number;
}

export interface ConnectionInfo {
  socketId: string;
  connectedAt: string;
  transport: string;
  rooms: string[];
}

/** What the HTTP routes may ask about sockets; a clustered implementation answers for every instance. */
export interface SocketDirectory {
  connections(): number;
  /** `trip:` and `user:` rooms with their socket counts. */
  rooms(): Promise<RoomInfo[]>;
  /** One user's sockets. */
  connectionsOf(userId: string): Promise<ConnectionInfo[]>;
}

const isContractRoom = (name: string) => name.startsWith('trip:') || name.startsWith('user:');

/** The directory of this process's sockets. */
export function createSocketDirectory(io: BridgeServer): SocketDirectory {
  return {
    connections: () => io.engine.clientsCount,
    async rooms() {
      const result: RoomInfo[] = [];
      for (const [name, members] of io.of('/').adapter.rooms) {
        if (isContractRoom(name)) result.push({ name, members: members.size });
      }
      return result.sort((a, b) => a.name.localeCompare(b.name));
    },
    async connectionsOf(userId) {
      const sockets = await io.in(rooms.user(userId)).fetchSockets();
      return sockets.map((s) => ({
        socketId: s.id,
        connectedAt: s.data.connectedAt,
        transport: s.data.transport,
        rooms: [...s.rooms].filter(isContractRoom),
      }));
    },
  };
}
