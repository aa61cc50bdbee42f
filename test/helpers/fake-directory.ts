import type { SocketDirectory } from '../../src/realtime/socket-directory.js';

/** A socket directory of a cluster with no sockets, for HTTP tests that do not look at sockets. */
export const emptySocketDirectory = (): SocketDirectory => ({
  connections: () => 0,
  summary: async () => ({ connections: 0, rooms: [], broker: { consumed: 0, delivered: 0, deadLettered: 0, duplicates: 0 } }),
  connectionsOf: async () => [],
});
