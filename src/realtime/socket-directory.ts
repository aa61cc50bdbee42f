import { rooms } from '../../consumers/ports.js';
import type { BrokerCounts, ConnectionInfo, RoomInfo } from '../../contracts/index.js';
import { localSocketsIn, type BridgeServer } from './types.js';

export type { BrokerCounts, ConnectionInfo, RoomInfo };

/** Sockets, rooms and broker counters, summed over every instance. */
export interface ClusterSummary {
  connections: number;
  /** `trip:` and `user:` rooms with their socket counts, by name. */
  rooms: RoomInfo[];
  broker: BrokerCounts;
}

/** What the HTTP routes may ask about sockets. */
export interface SocketDirectory {
  /** This instance's sockets (its health). */
  connections(): number;
  /** Every instance's sockets, rooms and counters. */
  summary(): Promise<ClusterSummary>;
  /** One user's sockets, on every instance. */
  connectionsOf(userId: string): Promise<ConnectionInfo[]>;
}

/** One instance's part of the summary, as it crosses instances (JSON). */
export interface InstanceSummary {
  connections: number;
  rooms: Array<[string, number]>;
  broker: BrokerCounts;
}

const isContractRoom = (name: string) => name.startsWith('trip:') || name.startsWith('user:');

/**
 * The directory over Socket.IO. Clustered, each instance answers `directory:summary` from its own
 * adapter's rooms (room sizes cross the wire, not sockets) and `directory:connections` with one
 * user's sockets (ids, times, transports and rooms; never a handshake); the asking one adds them up.
 */
export function createSocketDirectory(
  io: BridgeServer,
  { clustered, brokerCounts }: { clustered: boolean; brokerCounts: () => Promise<BrokerCounts> },
): SocketDirectory {
  async function local(): Promise<InstanceSummary> {
    const sizes: Array<[string, number]> = [];
    for (const [name, members] of io.of('/').adapter.rooms) if (isContractRoom(name)) sizes.push([name, members.size]);
    return { connections: io.engine.clientsCount, rooms: sizes, broker: await brokerCounts() };
  }
  function localConnectionsOf(userId: string): ConnectionInfo[] {
    return localSocketsIn(io, rooms.user(userId)).map((s) => ({
      socketId: s.id,
      connectedAt: s.data.connectedAt,
      transport: s.data.transport,
      rooms: [...s.rooms].filter(isContractRoom),
    }));
  }
  if (clustered) {
    io.on('directory:summary', (ack) => void local().then(ack));
    io.on('directory:connections', (userId, ack) => ack(typeof userId === 'string' ? localConnectionsOf(userId) : []));
  }

  return {
    connections: () => io.engine.clientsCount,
    async summary() {
      const parts = [await local(), ...(clustered ? await io.serverSideEmitWithAck('directory:summary') : [])];
      const members = new Map<string, number>();
      const broker: BrokerCounts = { consumed: 0, delivered: 0, deadLettered: 0, duplicates: 0 };
      let connections = 0;
      for (const part of parts) {
        connections += part.connections;
        for (const [name, size] of part.rooms) members.set(name, (members.get(name) ?? 0) + size);
        for (const key of Object.keys(broker) as Array<keyof BrokerCounts>) broker[key] += part.broker[key];
      }
      const roomList = [...members].map(([name, count]) => ({ name, members: count }));
      return { connections, rooms: roomList.sort((a, b) => a.name.localeCompare(b.name)), broker };
    },
    async connectionsOf(userId) {
      const others = clustered ? await io.serverSideEmitWithAck('directory:connections', userId) : [];
      return [...localConnectionsOf(userId), ...others.flat()];
    },
  };
}
