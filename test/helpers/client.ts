import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../contracts/index.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type EventName = keyof ServerToClientEvents;
type Payload<E extends EventName> = Parameters<ServerToClientEvents[E]>[0];

/** A socket that is not connected yet (websocket only, no reconnection unless asked). */
export function createClient(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): TestSocket {
  return io(url, { transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false, ...options });
}

/** Connects with a token in `auth` and resolves on `connected`. */
export async function connectClient(
  url: string,
  token: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<{ socket: TestSocket; connected: Payload<'connected'> }> {
  const socket = createClient(url, { auth: { token }, ...options });
  const connected = waitFor(socket, 'connected');
  socket.connect();
  return { socket, connected: await connected };
}

/** Resolves with the next `event`, or rejects after `timeoutMs`. */
export function waitFor<E extends EventName>(socket: TestSocket, event: E, timeoutMs = 5000): Promise<Payload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    socket.once(event, ((payload: Payload<E>) => {
      clearTimeout(timer);
      resolve(payload);
    }) as never);
  });
}

/** Everything a socket receives of `event`, in order. */
export function collect<E extends EventName>(socket: TestSocket, event: E): Payload<E>[] {
  const received: Payload<E>[] = [];
  socket.on(event, ((payload: Payload<E>) => received.push(payload)) as never);
  return received;
}

/** Waits until `predicate` holds, polling, or rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves with the `connect_error` a refused handshake produces. */
export function connectError(socket: TestSocket, timeoutMs = 5000): Promise<Error & { data?: { code?: string } }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for connect_error')), timeoutMs);
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      resolve(err as Error & { data?: { code?: string } });
    });
    socket.connect();
  });
}

/** Emits with an ack and resolves with the ack's response. */
export function request<E extends keyof ClientToServerEvents>(
  socket: TestSocket,
  event: E,
  payload: unknown,
  timeoutMs = 5000,
): Promise<Parameters<NonNullable<Parameters<ClientToServerEvents[E]>[1]>>[0]> {
  return (socket.timeout(timeoutMs) as unknown as { emitWithAck: (e: string, p: unknown) => Promise<never> }).emitWithAck(
    event,
    payload,
  );
}
