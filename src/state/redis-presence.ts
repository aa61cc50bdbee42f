import type { RedisClientType } from 'redis';
import type { PresenceEntry } from '../../contracts/index.js';
import type { Departure, EnterResult, LeaveResult, PresenceStore } from './presence-store.js';
import { redis, Script } from './redis-scripts.js';

/** How long an entry lives unless its instance confirms it (see `refresh`): a gone instance's users leave after this. */
export const DEFAULT_PRESENCE_TTL_MS = 60_000;

/**
 * The helpers every presence script starts with. A room's four keys share its slot: `sockets`
 * (socket id → user id), `exp` (socket id → expiry, ms), `users` (user id → sockets in the room) and
 * `names` (user id → display name). `purge` drops expired sockets first and answers the users it
 * took out of the room; `add` enters or confirms a socket; every write re-arms the keys' expiry.
 */
const COMMON = `
local sockets, exp, users, names = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function purge()
  local gone = {}
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 500)) do
    redis.call('ZREM', exp, sid)
    local uid = redis.call('HGET', sockets, sid)
    if uid then
      redis.call('HDEL', sockets, sid)
      if redis.call('HINCRBY', users, uid, -1) <= 0 then
        redis.call('HDEL', users, uid)
        redis.call('HDEL', names, uid)
        gone[#gone + 1] = uid
      end
    end
  end
  return gone
end
local function add(sid, uid, name, ttl)
  redis.call('ZADD', exp, now + ttl, sid)
  if redis.call('HSETNX', sockets, sid, uid) == 0 then return 0 end
  if name ~= '' then redis.call('HSET', names, uid, name) end
  return redis.call('HINCRBY', users, uid, 1) == 1 and 1 or 0
end
local function keep(ttl)
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ttl * 2) end
end
`;

/** enter(socket id, user id, name, ttl) → first (1/0), the departed users, the room's user ids, and its names (id, name pairs). */
const ENTER = new Script(`${COMMON}
local gone = purge()
local first = add(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
keep(tonumber(ARGV[4]))
return { first, gone, redis.call('HKEYS', users), redis.call('HGETALL', names) }
`);

/** leave(socket id) → user id ('' when the socket was not there), last (1/0), then the departed users. */
const LEAVE = new Script(`${COMMON}
local gone = purge()
local sid = ARGV[1]
local uid = redis.call('HGET', sockets, sid)
redis.call('ZREM', exp, sid)
if not uid then return { '', 0, gone } end
redis.call('HDEL', sockets, sid)
local last = 0
if redis.call('HINCRBY', users, uid, -1) <= 0 then
  redis.call('HDEL', users, uid)
  redis.call('HDEL', names, uid)
  last = 1
end
return { uid, last, gone }
`);

/** refresh(ttl, then socket id, user id, name for each socket) → the departed users. */
const REFRESH = new Script(`${COMMON}
local gone = purge()
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do add(ARGV[i], ARGV[i + 1], ARGV[i + 2], ttl) end
keep(ttl)
return gone
`);

/**
 * Presence in Redis, as Centrifugo keeps it: per room a hash of its sockets' users with an expiry
 * per socket, which each instance renews for its own sockets (`refresh`). One script per call,
 * atomic; nothing in it but ids and names, so nothing secret crosses Redis.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly ttlMs: number;

  constructor(
    private readonly client: RedisClientType,
    private readonly options: { prefix: string; ttlMs?: number },
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_PRESENCE_TTL_MS;
  }

  async enter(room: string, socketId: string, user: PresenceEntry): Promise<EnterResult> {
    const reply = await redis('presence enter', () => ENTER.run(this.client, this.keys(room), [socketId, user.userId, user.name ?? '', this.ttlMs]));
    const [first, gone, ids, pairs] = reply as [number, string[], string[], string[]];
    const names = new Map<string, string>();
    for (let i = 0; i + 1 < pairs.length; i += 2) names.set(pairs[i]!, pairs[i + 1]!);
    const users = ids.map((userId) => {
      const name = names.get(userId);
      return name === undefined ? { userId } : { userId, name };
    });
    return { first: first === 1, users, departed: departures(room, gone) };
  }

  async leave(room: string, socketId: string): Promise<LeaveResult> {
    const reply = await redis('presence leave', () => LEAVE.run(this.client, this.keys(room), [socketId]));
    const [userId, last, gone] = reply as [string, number, string[]];
    return { ...(userId ? { userId } : {}), last: last === 1, departed: departures(room, gone) };
  }

  async refresh(room: string, sockets: Array<{ socketId: string; user: PresenceEntry }>): Promise<Departure[]> {
    const args: Array<string | number> = [this.ttlMs];
    for (const { socketId, user } of sockets) args.push(socketId, user.userId, user.name ?? '');
    const gone = await redis('presence refresh', () => REFRESH.run(this.client, this.keys(room), args));
    return departures(room, gone as string[]);
  }

  private keys(room: string): string[] {
    const p = this.options.prefix;
    return [`${p}presence:{${room}}`, `${p}presence-exp:{${room}}`, `${p}presence-users:{${room}}`, `${p}presence-names:{${room}}`];
  }
}

const departures = (room: string, userIds: string[]): Departure[] => userIds.map((userId) => ({ room, userId }));
