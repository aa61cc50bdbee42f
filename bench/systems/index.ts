import { bridgeSystem } from './bridge.js';
import { ceilingSystem } from './ceiling.js';
import { naiveSystem } from './naive.js';
import { peerSystem } from './peer.js';
import type { RunContext, System, SystemName } from './types.js';

export { DEFAULT_SYSTEMS, SYSTEM_NAMES, type SystemName, type System } from './types.js';

/** Builds one of the systems (not started). `drainTrips`: trips the drain events are spread over. */
export function createSystem(name: SystemName, ctx: RunContext, drainTrips: number): System {
  switch (name) {
    case 'bridge':
      return bridgeSystem(ctx, drainTrips);
    case 'bridge-redis':
      return bridgeSystem(ctx, drainTrips, { redis: true });
    case 'naive':
      return naiveSystem(ctx, drainTrips);
    case 'peer':
      return peerSystem(ctx);
    case 'ceiling':
      return ceilingSystem(ctx);
  }
}
