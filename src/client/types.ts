import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import type { ServerToClientEvents, StreamPosition } from '../../contracts/index.js';
import type { BridgeClientError } from './errors.js';

/** A token, or a function that returns the current one; it is called again on every (re)connection. */
export type TokenSource = string | (() => string | Promise<string>);

export interface BridgeClientOptions {
  /** The bridge's origin, e.g. `https://realtime.example.com`. */
  url: string;
  token: TokenSource;
  /** Passed on to socket.io-client (`transports`, `path`, reconnection delays…); `auth` is the client's own. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** How long a request waits for its acknowledgement before failing as `unavailable`. Default 10 s. */
  ackTimeoutMs?: number;
}

/** What the client adds to the server's events. */
export interface ClientOwnEvents {
  /** The trip lost events that will not be replayed: reload it; events after `position` follow. */
  resync: (tripId: string, position: StreamPosition) => void;
  /** Notifications were missed and will not be replayed: reload them. */
  'notifications:resync': () => void;
  /** A trip joined earlier was refused on a reconnect (e.g. `forbidden`) and is forgotten. */
  'rejoin:failed': (tripId: string, error: BridgeClientError) => void;
  /** Socket.IO's own: the connection dropped; the client reconnects unless `reason` says it was closed. */
  disconnect: (reason: string) => void;
  /** A connection attempt failed; `data.code` says why when the server refused it. */
  connect_error: (error: Error & { data?: { code?: string; message?: string } }) => void;
}

/**
 * Every event an application can subscribe to. `trip:updated` and `notification` arrive once each,
 * in order per trip (per user); the other server events are passed on as they come.
 */
export type BridgeClientEvents = ServerToClientEvents & ClientOwnEvents;
