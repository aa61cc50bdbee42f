import type { NotificationMessage } from '../contracts/index.js';

/** A broadcast: every connected socket gets it, once. */
export type Broadcast = { event: 'notification'; payload: NotificationMessage };

/**
 * Where consumers hand what is not numbered. Numbered messages (a trip's events, a user's
 * notifications) go to their stream instead (`Streams`): the store that numbers them also hands them
 * to every instance's room feed. Returns once the message was handed to the transport.
 */
export interface FanoutPort {
  toAll(push: Broadcast): void;
}

/** Room names are data, built in one place. */
export const rooms = {
  trip: (tripId: string) => `trip:${tripId}`,
  user: (userId: string) => `user:${userId}`,
} as const;
