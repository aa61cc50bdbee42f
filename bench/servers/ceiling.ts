import { broadcastMessage, tripMessage } from '../lib/events.js';
import { now } from '../lib/clock.js';
import { pace } from '../lib/pacer.js';
import { required, runAsChild, startPlainServer } from './plain-server.js';

/**
 * The ceiling: a plain Socket.IO server that makes the events itself, on a timer in its own process,
 * and emits them to the same rooms. No broker, no publisher: what Socket.IO alone can do here.
 */
const { io, port } = await startPlainServer(required('BENCH_SECRET'));

interface Plan {
  kind: 'trip' | 'broadcast';
  rate: number;
  durationMs: number;
  trips: string[];
  step: string;
}

runAsChild(io, port, {
  /** The same schedule the runner's publishers follow: event n goes to trips[n % trips.length]. */
  generate: (plan: Plan) =>
    pace(plan.rate, plan.durationMs, (n) => {
      const stamp = { sentAt: now(), step: plan.step };
      if (plan.kind === 'broadcast') io.emit('notification', broadcastMessage(stamp));
      else {
        const tripId = plan.trips[n % plan.trips.length] ?? '';
        io.to(`trip:${tripId}`).emit('trip:updated', tripMessage(tripId, stamp));
      }
      return true;
    }),
});
