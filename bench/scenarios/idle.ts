import { rssBytes } from '../lib/children.js';
import { sleep } from '../lib/clock.js';
import type { CpuUse } from '../lib/cpu.js';
import { progress, type ScenarioContext } from './measure.js';

export interface IdleResult {
  requested: number;
  connected: number;
  failed: number;
  errors: Record<string, number>;
  /** Authenticated connections per second (handshake → `connected`), all clients at once. */
  connectPerSec: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** (RSS after − RSS before) ÷ connected. */
  bytesPerConnection: number;
  /** CPU use while the sockets connected. */
  cpu: CpuUse;
}

/** Settling time before each RSS reading, so that a connect burst's garbage is not counted twice. */
const SETTLE_MS = 1000;

/** Idle sockets: N authenticated connections that do nothing; the server's RSS before and after. */
export async function runIdle({ system, pool, secret, options, cpuWindow }: ScenarioContext): Promise<IdleResult> {
  await sleep(SETTLE_MS);
  const rssBeforeBytes = rssBytes(system.pid);
  try {
    const cpu = cpuWindow();
    const connect = await pool.connect({
      url: system.url,
      secret,
      total: options.idle,
      trips: 0,
      concurrency: options.concurrency,
      addressSpread: options.addressSpread,
      timeoutMs: 30_000,
    });
    const cpuUse = cpu();
    await sleep(SETTLE_MS);
    const rssAfterBytes = rssBytes(system.pid);
    const bytesPerConnection = connect.connected > 0 ? (rssAfterBytes - rssBeforeBytes) / connect.connected : Number.NaN;
    progress(
      system.name,
      `idle: ${connect.connected} sockets at ${Math.round(connect.perSecond)}/s, ${(bytesPerConnection / 1024).toFixed(1)} KB each` +
        (connect.failed ? ` (${connect.failed} failed: ${JSON.stringify(connect.errors)})` : ''),
    );
    return {
      requested: options.idle,
      connected: connect.connected,
      failed: connect.failed,
      errors: connect.errors,
      connectPerSec: connect.perSecond,
      rssBeforeBytes,
      rssAfterBytes,
      bytesPerConnection,
      cpu: cpuUse,
    };
  } finally {
    await pool.disconnect();
  }
}
