import { rooms, type FanoutPort, type Push } from '../../consumers/ports.js';
import type { BridgeServer } from './types.js';

type Target = Pick<ReturnType<BridgeServer['to']>, 'emit'>;

function emit(target: Target, push: Push): void {
  if (push.event === 'trip:updated') target.emit('trip:updated', push.payload);
  else target.emit('notification', push.payload);
}

/**
 * The fan-out port over Socket.IO: one encode per broadcast, whatever the number of sockets.
 *
 * @param clustered whether other instances share the rooms (a cluster adapter). Alone, a room with
 *   no socket here is skipped without encoding the message: most trips have nobody online.
 */
export function createSocketFanout(io: BridgeServer, { clustered }: { clustered: boolean }): FanoutPort {
  return {
    toRoom(room, push) {
      if (!clustered && !io.sockets.adapter.rooms.has(room)) return;
      emit(io.to(room), push);
    },
    toAll(push) {
      emit(io, push);
    },
    async leaveTrip(tripId, reason, userId) {
      const room = rooms.trip(tripId);
      if (userId === undefined) {
        io.to(room).emit('trip:left', { tripId, reason });
        io.in(room).socketsLeave(room);
        return;
      }
      // The user's sockets that are in the trip's room: the intersection of two rooms.
      let left = 0;
      for (const socket of await io.in(rooms.user(userId)).fetchSockets()) {
        if (!socket.rooms.has(room)) continue;
        socket.leave(room);
        socket.emit('trip:left', { tripId, reason });
        left += 1;
      }
      // Presence: the others see the user go, as when their last socket leaves.
      if (left > 0) io.to(room).emit('user:left', { tripId, userId });
    },
  };
}
