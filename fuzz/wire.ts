import WebSocket from 'ws';

/** One frame the server sent: text (an engine.io packet) or binary (an attachment). */
export type Frame = string | Buffer;

export interface OpenOptions {
  query?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * A raw engine.io v4 WebSocket session: frames in and out exactly as written, nothing encoded for
 * us. It answers the server's pings (`2` → `3`) so that a slow case is not cut for a missed pong.
 */
export class RawSession {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  private readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', (code) => {
      this.closeCode = code;
      resolve();
    }));
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary) => {
      const frame = isBinary ? data : data.toString();
      if (frame === '2') this.send('3');
      if (this.frames.length < 1_000) this.frames.push(frame);
    });
  }

  /** Opens `/socket.io/?<query>` over WebSocket; rejects with the HTTP status when the server refuses the upgrade. */
  static open(base: string, options: OpenOptions = {}): Promise<RawSession> {
    const url = `${base.replace(/^http/, 'ws')}/socket.io/?${options.query ?? 'EIO=4&transport=websocket'}`;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, { headers: options.headers ?? {}, handshakeTimeout: options.timeoutMs ?? 3_000, maxPayload: 16 * 1024 * 1024 });
      } catch (err) {
        return reject(err as Error);
      }
      ws.once('open', () => resolve(new RawSession(ws)));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: Frame): void {
    if (this.open) this.ws.send(frame, { binary: typeof frame !== 'string' });
  }

  /** Resolves with the first frame (from `from` on) that matches, or undefined after `timeoutMs` or once closed. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs: number, from = 0): Promise<Frame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found !== undefined) return found;
      if (!this.open || Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits for every frame the server sends within `ms` (or until it closes). */
  async settle(ms: number): Promise<void> {
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, ms))]);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 1_000))]);
  }
}

/** A decoded Socket.IO packet from a `4…` engine.io message. */
export interface SioPacket {
  type: number;
  nsp: string;
  id?: number;
  data?: unknown;
}

/** Decodes a server frame as a Socket.IO packet, or undefined when it is not one. */
export function decodeSio(frame: Frame): SioPacket | undefined {
  if (typeof frame !== 'string' || frame[0] !== '4') return undefined;
  const m = /^4(\d)(?:\d+-)?(\/[^,]*,)?(\d+)?([\s\S]*)$/.exec(frame);
  if (!m) return undefined;
  let data: unknown;
  try {
    data = m[4] ? JSON.parse(m[4]) : undefined;
  } catch {
    return undefined;
  }
  return { type: Number(m[1]), nsp: m[2] ? m[2].slice(0, -1) : '/', ...(m[3] ? { id: Number(m[3]) } : {}), data };
}

/** `40[nsp,][auth]`: the Socket.IO CONNECT a client sends first. */
export function connectFrame(auth?: unknown, nsp = '/'): string {
  return `40${nsp === '/' ? '' : `${nsp},`}${auth === undefined ? '' : JSON.stringify(auth)}`;
}

/** `42[nsp,][id][event, ...args]`: an EVENT, with an ack id when given. */
export function eventFrame(args: unknown[], id?: number | string, nsp = '/'): string {
  return `42${nsp === '/' ? '' : `${nsp},`}${id ?? ''}${JSON.stringify(args)}`;
}
