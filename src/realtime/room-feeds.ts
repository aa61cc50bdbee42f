import type { NotificationMessage, TripUpdatedMessage } from '../../contracts/index.js';
import { rooms } from '../../consumers/ports.js';
import { canJoinTrip } from '../auth/access.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { MembershipStore, StreamEntry, StreamHead } from '../state/stores.js';
import type { Streams } from '../state/streams.js';
import type { TripPresence } from './presence.js';
import { localSocketsIn, type BridgeServer } from './types.js';

type Entry = StreamEntry<TripUpdatedMessage | NotificationMessage>;

/** Where one room of this instance stands in its stream. */
interface Feed {
  /** The last entry handed to the room's sockets here. */
  last: StreamHead;
  /** The store's clock at `last`: an entry of another epoch kept before it is stale. */
  at: number;
  /** Sockets that entered at a head the feed has not reached yet: they have everything up to it. */
  ahead: Map<string, StreamHead>;
  catchingUp: boolean;
  /** Entries that arrived while catching up, or ahead of a gap. */
  waiting: Entry[];
}

/** How long a catch-up that could not reach the store waits before trying again. */
const CATCH_UP_RETRY_MS = 500;

const byPosition = (a: Entry, b: Entry) => a.seq - b.seq;

/** Seconds from an event's `time` until now (its publisher's clock against ours: skew shows here). */
export const lagSeconds = (time: string) => (Date.now() - Date.parse(time)) / 1000;

/**
 * Hands every stream's entries to this instance's sockets, in order, once each: a cursor per room
 * with local sockets drops what it handed out already, and fills a gap from the stream's history
 * before going on (entries published while this instance's subscription was down, say). After an
 * entry it does what the entry says: the removed user's sockets leave the trip, or all of a deleted
 * trip's. Knows nothing of where entries come from (the store itself, or a Redis subscription).
 */
export class RoomFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly log: Logger;

  constructor(
    private readonly io: BridgeServer,
    private readonly deps: { streams: Streams; membership: MembershipStore; presence: TripPresence; metrics: Metrics; logger: Logger },
  ) {
    this.log = deps.logger.child({ component: 'room-feeds' });
    const adapter = io.of('/').adapter;
    adapter.on('delete-room', (room: string) => this.feeds.delete(room));
    adapter.on('leave-room', (room: string, socketId: string) => this.feeds.get(room)?.ahead.delete(socketId));
    deps.streams.listen(
      (entry) => this.receive(entry),
      () => this.catchUpAll(),
      (stream) => this.feeds.has(stream),
    );
  }

  /** A socket entered the room having everything up to `head` (under the stream's lock, after its replay). */
  joined(room: string, socketId: string, head: StreamHead & { at: number }): void {
    const feed = this.feeds.get(room);
    if (!feed) {
      this.feeds.set(room, { last: { seq: head.seq, epoch: head.epoch }, at: head.at, ahead: new Map(), catchingUp: false, waiting: [] });
    } else if (feed.last.epoch !== head.epoch || feed.last.seq < head.seq) {
      // Entries up to its head are still on their way here: the others need them, this socket does not.
      feed.ahead.set(socketId, { seq: head.seq, epoch: head.epoch });
    }
  }

  /** One entry, as numbered; ignored when no socket here is in its room. */
  receive(entry: Entry): void {
    const feed = this.feeds.get(entry.stream);
    if (!feed) return;
    if (feed.catchingUp) feed.waiting.push(entry);
    else this.apply(entry.stream, feed, entry);
  }

  private apply(room: string, feed: Feed, entry: Entry): void {
    const { epoch } = entry.message as StreamHead;
    if (epoch !== feed.last.epoch) {
      // Numbered before the epoch the feed stands in (still on its way when a socket joined): stale.
      if (entry.at < feed.at) return;
      // The stream started again (the store lost it, or the trip was deleted): from its beginning.
      feed.last = { seq: 0, epoch };
      for (const [id, head] of feed.ahead) if (head.epoch !== epoch) feed.ahead.delete(id);
    }
    if (entry.seq <= feed.last.seq) return;
    if (entry.seq > feed.last.seq + 1) {
      feed.waiting.push(entry);
      this.catchUp(room, feed);
      return;
    }
    this.handOut(room, feed, entry);
  }

  private handOut(room: string, feed: Feed, entry: Entry): void {
    feed.last = { seq: entry.seq, epoch: feed.last.epoch };
    feed.at = entry.at;
    const except: string[] = [];
    for (const [id, head] of feed.ahead) {
      if (head.epoch !== feed.last.epoch) continue;
      if (entry.seq <= head.seq) except.push(id);
      if (entry.seq >= head.seq) feed.ahead.delete(id);
    }
    const target = except.length > 0 ? this.io.local.to(room).except(except) : this.io.local.to(room);
    const trip = room.startsWith('trip:');
    if (trip) target.emit('trip:updated', entry.message as TripUpdatedMessage);
    else target.emit('notification', entry.message as NotificationMessage);
    (trip ? this.deps.metrics.lagOf.trip : this.deps.metrics.lagOf.user).observe(lagSeconds(entry.message.time));
    if (entry.leave) this.leave(room, entry.leave.reason, entry.leave.reason === 'removed' ? entry.leave.userId : undefined);
  }

  /** The entry's sockets leave the trip here, at once, before any later entry of it is handed out. */
  private leave(room: string, reason: 'removed' | 'deleted', userId: string | undefined): void {
    const tripId = room.slice('trip:'.length);
    if (userId === undefined) {
      this.io.local.to(room).emit('trip:left', { tripId, reason });
      // Every instance takes its own sockets out, of the room and of its presence (nobody is left to tell).
      for (const socket of localSocketsIn(this.io, room)) void this.deps.presence.left(socket, room, true);
      this.io.local.in(room).socketsLeave(room);
      return;
    }
    for (const socket of localSocketsIn(this.io, rooms.user(userId))) {
      if (!socket.rooms.has(room)) continue;
      void socket.leave(room);
      socket.emit('trip:left', { tripId, reason });
      void this.deps.presence.left(socket, room, true);
    }
    // Every instance tells its own sockets: the user is gone from the trip, wherever their sockets were.
    this.io.local.to(room).emit('user:left', { tripId, userId });
  }

  /**
   * Fills the gap after `last` from history. When history no longer reaches back, what follows is
   * handed out anyway (the typed client sees the gap and resyncs), and the room's sockets are checked
   * against membership again, since a removal may have been among the entries lost.
   */
  private catchUp(room: string, feed: Feed): void {
    if (feed.catchingUp) return;
    feed.catchingUp = true;
    const started = Date.now();
    const from = feed.last;
    const store = room.startsWith('trip:') ? this.deps.streams.trips : this.deps.streams.users;
    store.since(room, feed.last).then(
      (recovery) => {
        feed.catchingUp = false;
        if (this.feeds.get(room) !== feed) return;
        this.log.info(
          { event: 'feed.catch_up', room, from, head: recovery.head, recovered: recovery.recovered, ms: Date.now() - started },
          'room caught up from history',
        );
        if (recovery.recovered) {
          for (const entry of recovery.entries) if (entry.seq > feed.last.seq) this.handOut(room, feed, entry);
        } else if (recovery.head.epoch !== feed.last.epoch && recovery.at >= feed.at) {
          // A new epoch began: hand out its beginning too, from its own history.
          feed.last = { seq: 0, epoch: recovery.head.epoch };
          feed.at = recovery.at;
          return this.catchUp(room, feed);
        } else {
          this.lost(room, feed, recovery.head);
        }
        this.deps.metrics.feedCatchUps.inc({ outcome: recovery.recovered ? 'recovered' : 'lost' });
        const waiting = feed.waiting.splice(0).sort(byPosition);
        for (const entry of waiting) this.apply(room, feed, entry);
      },
      (err: Error) => {
        feed.catchingUp = false;
        this.log.warn({ event: 'feed.catch_up_failed', room, err: { message: err.message } }, 'catching up failed; retrying');
        setTimeout(() => {
          if (this.feeds.get(room) === feed) this.catchUp(room, feed);
        }, CATCH_UP_RETRY_MS).unref();
      },
    );
  }

  private lost(room: string, feed: Feed, head: StreamHead): void {
    const next = feed.waiting.filter((e) => (e.message as StreamHead).epoch === feed.last.epoch).sort(byPosition)[0];
    feed.last = next ? { seq: next.seq - 1, epoch: feed.last.epoch } : { seq: head.seq, epoch: head.epoch };
    this.log.warn({ event: 'feed.entries_lost', room, head }, 'entries missed here are no longer in history');
    if (room.startsWith('trip:')) void this.recheckMembers(room);
  }

  private async recheckMembers(room: string): Promise<void> {
    const tripId = room.slice('trip:'.length);
    for (const socket of localSocketsIn(this.io, room)) {
      const allowed = await canJoinTrip(socket.data.user, tripId, this.deps.membership).catch(() => true);
      if (allowed || !socket.rooms.has(room)) continue;
      void socket.leave(room);
      socket.emit('trip:left', { tripId, reason: 'removed' });
      await this.deps.presence.left(socket, room);
    }
  }

  /** The subscription came back: entries may have been missed by every room here. */
  private catchUpAll(): void {
    for (const [room, feed] of this.feeds) this.catchUp(room, feed);
  }
}
