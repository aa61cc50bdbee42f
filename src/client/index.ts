/**
 * The typed browser and Node client of the realtime bridge:
 *
 *   const client = createBridgeClient({ url, token: () => auth.currentToken() });
 *   client.on('trip:updated', (event) => applyToTrip(event));
 *   client.on('resync', (tripId) => reloadTrip(tripId));
 *   await client.joinTrip('trip-123');
 */
export { BridgeClient, createBridgeClient, type BridgeSocket } from './bridge-client.js';
export { BridgeClientError, isTransient } from './errors.js';
export { StreamCursor, type Numbered } from './stream-cursor.js';
export type { BridgeClientEvents, BridgeClientOptions, ClientOwnEvents, TokenSource } from './types.js';
export type {
  ConnectErrorData,
  ErrorCode,
  NotificationMessage,
  PresenceEntry,
  StreamPosition,
  TripJoinResult,
  TripLeftReason,
  TripUpdatedMessage,
} from '../../contracts/index.js';
