import { connect } from 'amqplib';
import { required, runAsChild, startPlainServer } from './plain-server.js';

/**
 * The naive forwarder: what a bridge costs without guarantees. It consumes a queue of the same
 * kind, bound the same way (declared by the runner), with auto-ack, and forwards each message as it
 * comes: no validation, no de-duplication, no dead letters, no ordering lane, no seq. It reads with
 * the same AMQP client as the bridge's consumer (amqplib), so that the two differ by the
 * guarantees alone.
 */
const { io, port } = await startPlainServer(required('BENCH_SECRET'));
const connection = await connect(required('BENCH_AMQP_URL'), { clientProperties: { connection_name: 'bench-naive' } });
connection.on('error', () => undefined);
const channel = await connection.createChannel();
channel.on('error', () => undefined);
let forwarded = 0;

await channel.consume(
  required('BENCH_QUEUE'),
  (msg) => {
    if (!msg) return;
    const event = JSON.parse(msg.content.toString());
    if (event.type === 'notification.broadcast') {
      io.emit('notification', { eventId: event.id, time: event.time, ...event.data.notification });
    } else {
      const tripId = event.data.tripId;
      io.to(`trip:${tripId}`).emit('trip:updated', { eventId: event.id, type: event.type, tripId, time: event.time, source: event.source, data: event.data });
    }
    forwarded += 1;
  },
  { noAck: true },
);

runAsChild(io, port, { stats: () => ({ forwarded }) }, async () => {
  await channel.close().catch(() => undefined);
  await connection.close().catch(() => undefined);
});
