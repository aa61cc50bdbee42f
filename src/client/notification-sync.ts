import type { NotificationMessage, StreamPosition } from '../../contracts/index.js';
import { StreamCursor } from './stream-cursor.js';

type NumberedNotification = NotificationMessage & { seq: number; epoch: string };

export interface NotificationSyncDeps {
  /** Hands one notification to the application. */
  deliver(notification: NotificationMessage): void;
  /** Notifications were missed and will not be replayed: the application should reload them. */
  resync(): void;
}

/**
 * The user's notification stream: each handshake offers `notificationsSince` (the last one handed
 * out) so the server replays what was missed before `connected`; the cursor drops the overlap.
 * Broadcasts carry no `seq` and pass straight through.
 */
export class NotificationSync {
  private readonly cursor = new StreamCursor<NumberedNotification>();
  /** Between a handshake and its `connected`: the replay is still arriving, so a gap may yet fill. */
  private recovering = false;
  private askedSince = false;

  constructor(private readonly deps: NotificationSyncDeps) {}

  /** Called as a handshake starts; returns the position to send as `notificationsSince`, if any. */
  handshake(): StreamPosition | undefined {
    const since = this.cursor.position;
    this.recovering = true;
    this.askedSince = since !== undefined;
    return since;
  }

  /** Takes a `notification` from the socket. */
  receive(notification: NotificationMessage): void {
    if (notification.seq === undefined || notification.epoch === undefined) return this.deps.deliver(notification);
    const numbered = notification as NumberedNotification;
    // The first numbered notification ever seen is where this client's stream starts.
    if (!this.cursor.position) this.cursor.reset({ seq: numbered.seq - 1, epoch: numbered.epoch });
    this.hand(this.cursor.push(numbered));
    // Live, nothing will fill a gap: say so and carry on from what arrived.
    if (!this.recovering && this.cursor.waiting) this.giveUp();
  }

  /**
   * `connected` arrived: the replay, if any, is complete. `head` (where the stream stood when the
   * socket joined it) gives the cursor a position even before the first notification, so that the
   * next handshake asks for everything after it.
   */
  connected(notificationsRecovered: boolean | undefined, head?: StreamPosition): void {
    this.recovering = false;
    if ((this.askedSince && notificationsRecovered !== true) || this.cursor.waiting) this.giveUp(head);
    else if (head && !this.cursor.position) this.hand(this.cursor.reset(head));
  }

  /** Where the application stands in the user's stream. */
  get position(): StreamPosition | undefined {
    return this.cursor.position;
  }

  private giveUp(head?: StreamPosition): void {
    this.deps.resync();
    // Told to reload: go on from the server's head when it said where that is.
    if (head) return this.hand(this.cursor.reset(head));
    // With nothing waiting, the next numbered notification (perhaps of a new epoch) starts afresh.
    if (!this.cursor.waiting) return this.cursor.clear();
    while (this.cursor.waiting) this.hand(this.cursor.skipGap());
  }

  private hand(ready: NumberedNotification[]): void {
    for (const notification of ready) this.deps.deliver(notification);
  }
}
