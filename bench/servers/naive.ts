import { Connection } from 'rabbitmq-client';
import { required, runAsChild, startPlainServer } from './plain-server.js';

/**
 * The naive forwarder: what a bridge costs without guarantees. It consumes a queue of the same
 * kind, bound the same way (declared by the runner), with auto-ack, and forwards each message as it
 * comes: no validation, no de-duplication, no dead letters, no ordering lane, no seq.
 */
const { io, port } = await startPlainServer(required('BENCH_SECRET'));
const connection = new Connection({ url: required('BENCH_AMQP_URL'), connectionName: 'bench-naive' });
connection.on('error', () => undefined);
let forwarded = 0;

const consumer = connection.createConsumer(
  { queue: required('BENCH_QUEUE'), queueOptions: { queue: required('BENCH_QUEUE'), passive: true }, noAck: true },
  (msg) => {
    const event = JSON.parse((msg.body as Buffer).toString());
    if (event.type === 'notification.broadcast') {
      io.emit('notification', { eventId: event.id, time: event.time, ...event.data.notification });
    } else {
      const tripId = event.data.tripId;
      io.to(`trip:${tripId}`).emit('trip:updated', { eventId: event.id, type: event.type, tripId, time: event.time, source: event.source, data: event.data });
    }
    forwarded += 1;
  },
);
consumer.on('error', () => undefined);

runAsChild(io, port, { stats: () => ({ forwarded }) }, async () => {
  await consumer.close();
  await connection.close();
});
