import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type DefaultEventsMap, type ServerOptions } from 'socket.io';
import { emitToParent, serveRpc } from '../lib/rpc.js';
import { benchTokenVerifier, type BenchUser } from '../lib/tokens.js';

export type PlainServer = Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, { user: BenchUser }>;

type JoinAck = (answer: { ok: true; tripId: string } | { ok: false; error: { code: string; message: string } }) => void;

/**
 * A plain Socket.IO server speaking the bridge's client protocol as far as the load clients use it:
 * the same JWT at the handshake (jose, HS256, issuer, audience), `connected` once accepted, and
 * `trip:join` with an ack. Nothing else: no validation, limits, presence or history.
 */
export async function startPlainServer(secret: string, extra: Partial<ServerOptions> = {}): Promise<{ io: PlainServer; port: number }> {
  const verify = benchTokenVerifier(secret);
  const http = createServer();
  const io: PlainServer = new Server(http, {
    // The bridge's settings that shape a broadcast: one frame built for every recipient.
    perMessageDeflate: false,
    serveClient: false,
    maxHttpBufferSize: 1e6,
    ...extra,
  });
  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('unauthorized'));
    verify(token).then(
      (user) => {
        socket.data.user = user;
        next();
      },
      () => next(new Error('unauthorized')),
    );
  });
  io.on('connection', (socket) => {
    const { user } = socket.data;
    void socket.join(`user:${user.id}`);
    socket.on('trip:join', (payload: { tripId?: unknown }, ack?: JoinAck) => {
      const tripId = typeof payload?.tripId === 'string' ? payload.tripId : '';
      if (!user.trips.includes(tripId)) {
        ack?.({ ok: false, error: { code: 'forbidden', message: `not a member of trip ${tripId}` } });
        return;
      }
      void socket.join(`trip:${tripId}`);
      ack?.({ ok: true, tripId });
    });
    socket.emit('connected', { message: 'connected', userId: user.id, socketId: socket.id, serverTime: new Date().toISOString() });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { io, port: (http.address() as AddressInfo).port };
}

/**
 * Runs a comparison server as a child of the runner: answers its calls, reports `ready` with the
 * port, and closes on SIGTERM (or when the runner goes away).
 */
export function runAsChild(io: PlainServer, port: number, handlers: Record<string, (args: never) => unknown> = {}, onClose = async () => {}): void {
  serveRpc(handlers);
  process.once('SIGTERM', () => {
    io.close();
    onClose().finally(() => process.exit(0));
  });
  emitToParent('ready', { port });
}

/** A required environment variable of a comparison server (set by the runner). */
export function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this process is started by bench/run)`);
  return value;
}
