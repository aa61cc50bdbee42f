import type { FanoutPort } from '../../consumers/ports.js';
import type { Metrics } from '../metrics.js';
import { lagSeconds } from './room-feeds.js';
import type { BridgeServer } from './types.js';

/** The fan-out port over Socket.IO: one encode per broadcast, whatever the number of sockets (on every instance). */
export function createSocketFanout(io: BridgeServer, metrics: Metrics): FanoutPort {
  return {
    toAll(push) {
      io.emit(push.event, push.payload);
      metrics.lagOf.broadcast.observe(lagSeconds(push.payload.time));
    },
  };
}
