import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from 'socket.io';
import { StreamPosition } from '../../contracts/index.js';
import { rooms } from '../../consumers/ports.js';
import type { VerifyToken } from '../auth/verify-token.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createClientEvents, type ClientEventDeps } from './client-events.js';
import { replayAndJoin } from './recovery.js';
import { originPolicy } from '../auth/same-origin.js';
import { socketAuth } from './socket-auth.js';
import type { SocketGuard } from './socket-guard.js';
import type { BridgeServer, BridgeSocket } from './types.js';

/** Largest message a client may send (the seed design's 1 MB). */
export const MAX_HTTP_BUFFER_SIZE = 1e6;

export interface SocketServerOptions {
  corsOrigins: string[];
  cookieName: string;
  verifyToken: VerifyToken;
  metrics: Metrics;
  logger: Logger;
  guard: SocketGuard;
}

/**
 * Refuses a new session whose `Origin` is not in the allow-list. CORS headers only stop a browser
 * from reading polling answers; WebSocket upgrades are not subject to CORS at all, and since the
 * handshake accepts the token cookie, a foreign page could otherwise open a socket as its visitor.
 * Requests without `Origin` (servers, native apps) are not browsers acting for someone else, and
 * neither is one naming the server itself: a page of this origin is not cross-site, and WebSocket
 * libraries (python websocket-client, Starscream) send the URL they connect to as their Origin.
 */
function originCheck(corsOrigins: string[], guard: SocketGuard, metrics: Metrics) {
  const { audit } = guard;
  const allowed = originPolicy(corsOrigins);
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
    const origin = req.headers.origin;
    if (origin === undefined || allowed(origin, req.headers.host)) return callback(null, true);
    metrics.handshakeRefusals.inc({ code: 'origin_not_allowed' });
    audit.record(
      'socket.refused',
      { code: 'origin_not_allowed', origin: origin.slice(0, 200), address: guard.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']) },
      'handshake refused',
    );
    callback('origin not allowed', false);
  };
}

/** The typed Socket.IO server, not yet attached to an HTTP server. */
export function createSocketServer(options: SocketServerOptions): BridgeServer {
  const io: BridgeServer = new Server({
    cors: { origin: options.corsOrigins, credentials: true },
    allowRequest: originCheck(options.corsOrigins, options.guard, options.metrics),
    maxHttpBufferSize: MAX_HTTP_BUFFER_SIZE,
    // Off, so that a room broadcast builds its WebSocket frame once for every recipient.
    perMessageDeflate: false,
    serveClient: false,
  });
  io.use(socketAuth(options));
  return io;
}

/**
 * engine.io serves GET and POST (and CORS's OPTIONS, answered before this): any other method on a
 * live polling session would get a 500, as if the server had failed. Call once `io` is attached.
 */
export function refuseUnservedMethods(io: BridgeServer): void {
  io.engine.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (req.method === 'GET' || req.method === 'POST' || req.method === 'OPTIONS') return next();
    res.writeHead(405, { Allow: 'GET, POST, OPTIONS' }).end();
  });
}

/** Wires connection handling: the user's own room, `connected`, the client events, and the logs. */
export function handleConnections(io: BridgeServer, deps: ClientEventDeps & { logger: Logger }): void {
  const log = deps.logger.child({ component: 'sockets' });
  const registerClientEvents = createClientEvents(deps);
  // Shared by every socket (Socket.IO calls them with the socket as `this`): no closures per connection.
  function onProtocolError(this: BridgeSocket, err: unknown) {
    // A client may send an event named `error` (Socket.IO does not reserve it): its payload lands
    // here too, as anything JSON can be. Only Socket.IO's own errors are Error objects.
    if (!(err instanceof Error)) return;
    // A packet the parser refuses closes the connection; without a listener Socket.IO writes to stderr.
    const { id: socketId, data } = this;
    log.warn(
      { event: 'socket.protocol_error', userId: data.user.id, socketId, address: data.address, reason: err.message },
      'bad packet',
    );
  }
  function onDisconnect(this: BridgeSocket, transportReason: string) {
    deps.guard.expiry.untrack(this);
    void deps.guard.limiter.forgetSocket(this.id);
    const reason = this.data.disconnectReason ?? transportReason;
    deps.metrics.connectionDuration.observe((Date.now() - Date.parse(this.data.connectedAt)) / 1000);
    log.info({ event: 'socket.disconnected', userId: this.data.user.id, socketId: this.id, reason }, 'socket disconnected');
  }
  io.on('connection', (socket) => {
    const { user, connectedAt } = socket.data;
    // Before anything is sent to it: the notifications replayed below count too.
    deps.guard.outgoing.track(socket);
    socket.data.transport = socket.conn.transport.name;
    socket.conn.once('upgrade', () => {
      socket.data.transport = socket.conn.transport.name;
    });
    const address = socket.data.address;
    // The handshake kept what we need; the HTTP request behind it would cost several KB per socket.
    (socket.conn as { request: unknown }).request = null;
    registerClientEvents(socket);
    log.info(
      { event: 'socket.connected', userId: user.id, socketId: socket.id, transport: socket.conn.transport.name, address },
      'socket connected',
    );
    deps.guard.expiry.track(socket);
    socket.on('error', onProtocolError);
    socket.on('disconnect', onDisconnect);
    // An invalid `notificationsSince` counts as a position that cannot be recovered.
    const asked = (socket.handshake.auth as { notificationsSince?: unknown }).notificationsSince;
    const position = asked === undefined ? undefined : StreamPosition.safeParse(asked);
    const since = position && (position.success ? position.data : { seq: 0, epoch: '' });
    replayAndJoin({
      socket,
      room: rooms.user(user.id),
      store: deps.streams.users,
      lock: deps.streams.lock,
      feeds: deps.feeds,
      since,
      send: (message) => socket.emit('notification', message),
    }).then(
      ({ head, recovered }) =>
        socket.emit('connected', {
          message: 'connected',
          userId: user.id,
          socketId: socket.id,
          serverTime: connectedAt,
          ...(since ? { notificationsRecovered: recovered } : {}),
          notificationsHead: head,
        }),
      (err: unknown) => {
        log.warn({ event: 'socket.connect_failed', err, userId: user.id }, 'could not join the user room; closing the transport');
        // The transport, not a Socket.IO disconnect: clients reconnect by themselves (after a
        // server-side disconnect socket.io-client gives up), and Redis may be back by then.
        socket.conn.close();
      },
    );
  });
}
