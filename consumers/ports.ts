import type { NotificationMessage, TripLeftReason, TripUpdatedMessage } from '../contracts/index.js';

/** What a consumer may push to clients: an event name with its payload. */
export type Push =
  | { event: 'trip:updated'; payload: TripUpdatedMessage }
  | { event: 'notification'; payload: NotificationMessage };

/**
 * Where consumers hand their deliveries. Every method returns once the message was handed to the
 * transport (for Socket.IO: written to each socket's buffer, or to the adapter), which is what lets
 * the broker layer acknowledge the message afterwards.
 */
export interface FanoutPort {
  /** Every socket in the room gets the message, once. */
  toRoom(room: string, push: Push): void;
  /** Every connected socket gets the message, once. */
  toAll(push: Push): void;
  /** Takes sockets out of a trip's room (all of them, or one user's) and tells each `trip:left`. */
  leaveTrip(tripId: string, reason: TripLeftReason, userId?: string): Promise<void>;
}

/** Room names are data, built in one place. */
export const rooms = {
  trip: (tripId: string) => `trip:${tripId}`,
  user: (userId: string) => `user:${userId}`,
} as const;
