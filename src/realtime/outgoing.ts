import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { BridgeSocket } from './types.js';

/** What one socket may have waiting to go out before it is disconnected as a slow consumer. */
export interface PendingLimits {
  /** Bytes of encoded packets not yet written to the network (`MAX_PENDING_BYTES_PER_SOCKET`). */
  bytes: number;
  /** Packets waiting for the transport: a flood of small ones costs memory per packet too. */
  packets: number;
}

export const DEFAULT_PENDING_LIMITS: PendingLimits = { bytes: 1024 * 1024, packets: 4096 };

/** The TCP socket under a WebSocket transport. */
interface Tcp {
  writableCorked: number;
  destroyed: boolean;
  cork(): void;
  uncork(): void;
}

/** The engine.io connection under a socket, as far as this module reads it. */
interface Connection {
  readyState: string;
  writeBuffer: unknown[];
  transport: { name: string; socket?: { bufferedAmount?: number; terminate?: () => void; _socket?: Tcp } };
  close(discard?: boolean): void;
  on(event: 'packetCreate', fn: (packet: { data?: unknown }) => void): void;
  on(event: 'flush', fn: () => void): void;
}

interface Watched extends Connection {
  /** Bytes created since the last flush: still in engine.io's write buffer. */
  unflushedBytes: number;
  /** What was still waiting at the end of the last turn it was sent something (0: it had drained). */
  waitingBefore: number;
  /** The TCP socket corked in this turn, if any. */
  corked: Tcp | undefined;
  /** Listed in this turn's `sending` already. */
  sending: boolean;
  owner: Outgoing;
  socket: BridgeSocket;
}

/**
 * The byte length of a packet's data. A room broadcast hands the same string to every socket in a
 * row, so the last answer is kept: one measurement per broadcast, not per recipient.
 */
let lastData: unknown;
let lastBytes = 0;
function bytesOf(data: unknown): number {
  if (data === lastData) return lastBytes;
  let bytes = 0;
  if (typeof data === 'string') bytes = Buffer.byteLength(data);
  else if (data instanceof Uint8Array || data instanceof ArrayBuffer) bytes = data.byteLength;
  lastData = data;
  lastBytes = bytes;
  return bytes;
}

/** Connections sent something in this turn of the event loop, settled together at its end. */
const sending: Watched[] = [];
let scheduled = false;

function endOfTurn(): void {
  scheduled = false;
  for (const conn of sending.splice(0)) {
    conn.sending = false;
    const tcp = conn.corked;
    conn.corked = undefined;
    if (tcp && !tcp.destroyed) tcp.uncork();
    conn.owner.check(conn);
  }
}

/** Lists the connection for the end of this turn (once). */
function enlist(conn: Watched): void {
  if (conn.sending) return;
  conn.sending = true;
  sending.push(conn);
  if (!scheduled) {
    scheduled = true;
    setImmediate(endOfTurn);
  }
}

// Shared by every connection (engine.io calls them with the connection as `this`): no closures per socket.
function onPacketCreate(this: Watched, packet: { data?: unknown }): void {
  this.unflushedBytes += bytesOf(packet.data);
  // Blocked at the end of its last turn: held to the limits packet by packet, not a turn later.
  if (this.waitingBefore > 0) this.owner.check(this);
  enlist(this);
}

function onFlush(this: Watched): void {
  // A flush hands engine.io's whole write buffer to the transport, where bufferedAmount counts it.
  // It also comes without a new packet, when the transport drained: that turn's writes are corked too.
  this.unflushedBytes = 0;
  const tcp = this.transport.socket?._socket;
  if (this.corked || !tcp || tcp.writableCorked > 0) return;
  tcp.cork();
  this.corked = tcp;
  enlist(this);
}

/**
 * What each socket is sent, counted as Socket.IO hands packets to engine.io (history replays
 * included), and written out once per turn of the event loop.
 *
 * - **One write per turn.** Each packet would otherwise be its own `writev`: in a burst of trip
 *   events those calls were 42 % of the bridge's CPU profile. The first flush of a turn corks the
 *   socket; at the end of the turn (setImmediate) it is uncorked, and meanwhile engine.io keeps the
 *   turn's later packets in its own buffer and flushes them together.
 * - **Slow consumers.** Then what still waits (engine.io's buffer and what the WebSocket could not
 *   write to the kernel) is held against the limits, once the kernel refuses more (a polling client:
 *   until it asks again). A socket over them at the end of a turn, and again after it (at the end
 *   of the next turn, or as soon as a packet of that turn takes it over), without having drained in
 *   between, does not read: its connection is dropped at once, with
 *   what was waiting (a polite close would queue behind the data that does not move). The client
 *   sees its transport close and comes back with `since`, as after any lost connection.
 */
export class Outgoing {
  private readonly log: Logger;

  constructor(
    private readonly limits: PendingLimits,
    private readonly deps: { metrics: Metrics; logger: Logger },
  ) {
    for (const key of ['bytes', 'packets'] as const) {
      if (!Number.isInteger(limits[key]) || limits[key] < 1) throw new Error(`pending ${key} must be a positive integer`);
    }
    this.log = deps.logger.child({ component: 'outgoing' });
  }

  /** Watches one socket's outgoing data from now on (call before anything is sent to it). */
  track(socket: BridgeSocket): void {
    const conn = socket.conn as unknown as Watched;
    Object.assign(conn, { unflushedBytes: 0, waitingBefore: 0, corked: undefined, sending: false, owner: this, socket });
    conn.on('packetCreate', onPacketCreate);
    conn.on('flush', onFlush);
  }

  /** At the end of a turn in which the connection was sent something. */
  check(conn: Watched): void {
    const ws = conn.transport.socket;
    const unwritten = ws?.bufferedAmount ?? 0;
    const pendingBytes = conn.unflushedBytes + unwritten;
    const pendingPackets = conn.writeBuffer.length;
    // A WebSocket whose writes the kernel took entirely is draining: what engine.io holds goes out
    // with the next turn. A polling transport's buffer waits for the client's next request.
    const blocked = ws === undefined || unwritten > 0;
    const over = blocked && (pendingBytes > this.limits.bytes || pendingPackets > this.limits.packets);
    // One turn's grace: a big replay to a reader that keeps up drains before the next.
    if (over && conn.waitingBefore > 0) this.disconnect(conn, pendingBytes, pendingPackets);
    conn.waitingBefore = blocked ? pendingBytes : 0;
  }

  private disconnect(conn: Watched, pendingBytes: number, pendingPackets: number): void {
    const { socket } = conn;
    if (conn.readyState === 'closed' || socket.data.disconnectReason) return;
    socket.data.disconnectReason = 'slow_consumer';
    this.deps.metrics.slowConsumers.inc();
    this.log.warn(
      { event: 'socket.slow_consumer', userId: socket.data.user.id, socketId: socket.id, transport: conn.transport.name, pendingBytes, pendingPackets },
      'client does not read: disconnecting it',
    );
    const ws = conn.transport.socket;
    // Terminated, the WebSocket frees what it buffered now; a polling transport discards its buffer.
    if (typeof ws?.terminate === 'function') ws.terminate();
    else conn.close(true);
  }
}
