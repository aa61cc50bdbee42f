import type { FanoutPort } from '../../consumers/ports.js';
import type { BridgeServer } from './types.js';

/** The fan-out port over Socket.IO: one encode per broadcast, whatever the number of sockets (on every instance). */
export function createSocketFanout(io: BridgeServer): FanoutPort {
  return {
    toAll(push) {
      io.emit(push.event, push.payload);
    },
  };
}
