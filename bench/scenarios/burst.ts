import type { PoolConnectResult } from '../clients/pool.js';
import { now } from '../lib/clock.js';
import type { CpuUse } from '../lib/cpu.js';
import { membersPerTrip, tripIdOf } from '../lib/events.js';
import { collectDeliveries, progress, type Deliveries, type ScenarioContext } from './measure.js';

export interface BurstResult extends Deliveries {
  clients: number;
  trips: number;
  events: number;
  connect: PoolConnectResult;
  cpu: CpuUse;
}

/** How long a burst may take to reach every socket before its stragglers count as missing. */
const BURST_GRACE_MS = 60_000;

/**
 * Burst: `burstClients` sockets in `burstTrips` trips (10 per trip by default); `burstEvents` trip
 * events published at once, round robin over the trips; deliveries per second from the first publish
 * until the last arrives. What a deploy of the trip service, or a bulk import, does to the bridge.
 */
export async function runBurst({ system, pool, secret, options, cpuWindow }: ScenarioContext): Promise<BurstResult> {
  const clients = options.burstClients;
  const trips = options.burstTrips;
  const connect = await pool.connect({
    url: system.url,
    secret,
    total: clients,
    trips,
    concurrency: options.concurrency,
    addressSpread: options.addressSpread,
    timeoutMs: 20_000,
  });
  progress(system.name, `burst: ${connect.connected} clients joined ${trips} trips (${connect.failed} failed)`);
  try {
    const members = membersPerTrip(clients, trips);
    const tripIds = members.map((_, t) => tripIdOf(t));
    const events = options.burstEvents;
    const step = `${system.name}:burst`;
    const cpu = cpuWindow();
    const startedAt = now();
    // Every event due at once: each call sends what the publisher's window of unconfirmed messages
    // takes within a few milliseconds (event n to trip n % trips), and the next goes on from there.
    let sent = 0;
    let expected = 0;
    while (sent < events) {
      const left = events - sent;
      const batch = await system.sendTrips({ rate: left * 200, durationMs: 5, trips: tripIds, step });
      for (let n = 0; n < batch.sent; n++) expected += members[n % trips] ?? 0;
      sent += batch.sent;
    }
    const deliveries = await collectDeliveries(pool, step, expected, startedAt, BURST_GRACE_MS);
    progress(
      system.name,
      `burst of ${sent}: ${Math.round(deliveries.deliveriesPerSec)} deliveries/s, ${deliveries.deliveredPct.toFixed(1)} % delivered, p99 ${deliveries.p99Ms.toFixed(0)} ms`,
    );
    return { clients, trips, events: sent, connect, ...deliveries, cpu: cpu() };
  } finally {
    await pool.disconnect();
    await system.quiesce(30_000);
  }
}
