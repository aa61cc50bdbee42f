import { sleep } from '../lib/clock.js';
import type { PaceResult } from '../lib/pacer.js';
import { ForkedServer } from './forked-server.js';
import type { RunContext, System } from './types.js';

/** The ceiling (servers/ceiling.ts): the server makes and emits the events itself, on the same schedule. */
export function ceilingSystem(ctx: RunContext): System {
  const server = new ForkedServer(ctx, 'ceiling', {});
  const generate = (plan: object): Promise<PaceResult> => server.rpc.call<PaceResult>('generate', plan, 600_000);

  return {
    name: 'ceiling',
    get url() {
      return server.url;
    },
    get pid() {
      return server.pid;
    },
    prepare: async () => undefined,
    start: () => server.start(),
    stop: () => server.stop(),
    sendTrips: (plan) => generate({ kind: 'trip', ...plan }),
    sendBroadcasts: (plan) => generate({ kind: 'broadcast', trips: [], ...plan }),
    quiesce: () => sleep(200),
    close: async () => undefined,
  };
}
