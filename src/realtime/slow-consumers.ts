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

/** The engine.io connection under a socket, as far as this module reads it. */
interface Connection {
  readyState: string;
  writeBuffer: unknown[];
  transport: { name: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
  on(event: 'packetCreate', fn: (packet: { data?: unknown }) => void): void;
  on(event: 'flush', fn: () => void): void;
}

interface Watched extends Connection {
  /** Bytes created since the last flush: still in engine.io's write buffer. */
  unflushedBytes: number;
  watch: Watch;
}

interface Watch {
  socket: BridgeSocket;
  limits: PendingLimits;
  over: (socket: BridgeSocket, pendingBytes: number, pendingPackets: number) => void;
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

/** What the transport holds already handed to it but not yet written to the kernel (WebSocket only). */
function transportBytes(conn: Connection): number {
  return conn.transport.socket?.bufferedAmount ?? 0;
}

// Shared by every connection (engine.io calls them with the connection as `this`): no closures per socket.
function onPacketCreate(this: Watched, packet: { data?: unknown }): void {
  const size = bytesOf(packet.data);
  const waiting = this.unflushedBytes + transportBytes(this);
  this.unflushedBytes += size;
  const pendingBytes = waiting + size;
  const pendingPackets = this.writeBuffer.length + 1;
  const { limits, over, socket } = this.watch;
  // One packet larger than the limit passes when nothing else waits: only a backlog makes a slow reader.
  if ((waiting > 0 && pendingBytes > limits.bytes) || pendingPackets > limits.packets) over(socket, pendingBytes, pendingPackets);
}

function onFlush(this: Watched): void {
  // A flush hands engine.io's whole write buffer to the transport, where bufferedAmount counts it.
  this.unflushedBytes = 0;
}

/**
 * Cuts a socket whose client does not read: what waits for it is counted as Socket.IO hands packets
 * to engine.io (history replays included), and past a limit the connection is dropped at once, with
 * what was waiting. Closing it politely would queue the close behind the data that does not move.
 * The client sees its transport close and comes back with `since`, as after any lost connection.
 */
export class SlowConsumers {
  private readonly log: Logger;
  private readonly watch: Omit<Watch, 'socket'>;

  constructor(limits: PendingLimits, private readonly deps: { metrics: Metrics; logger: Logger }) {
    for (const key of ['bytes', 'packets'] as const) {
      if (!Number.isInteger(limits[key]) || limits[key] < 1) throw new Error(`pending ${key} must be a positive integer`);
    }
    this.log = deps.logger.child({ component: 'slow-consumers' });
    this.watch = { limits, over: (socket, bytes, packets) => this.disconnect(socket, bytes, packets) };
  }

  /** Watches one socket's outgoing data from now on (call before anything is sent to it). */
  track(socket: BridgeSocket): void {
    const conn = socket.conn as unknown as Watched;
    conn.unflushedBytes = 0;
    conn.watch = { ...this.watch, socket };
    conn.on('packetCreate', onPacketCreate);
    conn.on('flush', onFlush);
  }

  private disconnect(socket: BridgeSocket, pendingBytes: number, pendingPackets: number): void {
    const conn = socket.conn as unknown as Connection;
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
