import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { required, runAsChild, startPlainServer } from './plain-server.js';

/**
 * The peer a Socket.IO user would pick instead of a bridge: a plain server with the Redis adapter,
 * fed by `@socket.io/redis-emitter` in the publisher. The adapter key is unique to the run, so the
 * shared Redis sees only this run's channels (pub/sub only: nothing is stored).
 */
const pub = createClient({ url: required('BENCH_REDIS_URL') });
const sub = pub.duplicate();
pub.on('error', () => undefined);
sub.on('error', () => undefined);
await Promise.all([pub.connect(), sub.connect()]);

const { io, port } = await startPlainServer(required('BENCH_SECRET'), {
  adapter: createAdapter(pub, sub, { key: required('BENCH_REDIS_KEY') }),
});

runAsChild(io, port, {}, async () => {
  await Promise.allSettled([pub.quit(), sub.quit()]);
});
