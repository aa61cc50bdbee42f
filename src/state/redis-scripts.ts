import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorReply, type RedisClientType } from 'redis';
import { StoreUnavailableError } from './stores.js';

type Reply = Awaited<ReturnType<RedisClientType['eval']>>;

/** Runs one exchange with Redis; whatever fails in it is the store's failure, never the event's. */
export async function redis<R>(what: string, exchange: () => Promise<R>): Promise<R> {
  try {
    return await exchange();
  } catch (err) {
    throw new StoreUnavailableError(`redis ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Repeats an exchange until it answers (undefined: a lock is held), with a growing back-off (2 to
 * 50 ms); gives up after `timeoutMs` with StoreUnavailableError, when the holder must be gone.
 */
export async function poll<R>(what: string, timeoutMs: number, exchange: () => Promise<R | undefined>): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const result = await redis(what, exchange);
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new StoreUnavailableError(`redis ${what}: still locked after ${timeoutMs} ms`);
    await sleep(delay);
  }
}

/** A Lua script run by its SHA1: the source goes over the wire only when the server does not know it yet. */
export class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClientType, keys: string[], args: Array<string | number>): Promise<Reply> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha, options);
    } catch (err) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) return client.eval(this.source, options);
      throw err;
    }
  }
}

/**
 * open(hash, history, new epoch, expiry ms) → seq, epoch: the stream's head. A stream that is missing
 * (expired, evicted, dropped), or that another Redis process kept (`rid`: Redis restarted, failed over
 * or came back from a snapshot, and may have lost or rolled back writes), starts again at seq 0 under
 * the new epoch; its history goes with it. Both keys' expiry is re-armed together.
 */
const OPEN = `
local function open(hash, history, fresh, keep)
  local rid = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
  local seq, epoch, owner = unpack(redis.call('HMGET', hash, 'seq', 'epoch', 'rid'))
  if not seq or owner ~= rid then
    seq, epoch = 0, fresh
    redis.call('DEL', history)
    redis.call('HSET', hash, 'seq', 0, 'epoch', epoch, 'rid', rid, 'bytes', 0)
  end
  redis.call('PEXPIRE', hash, keep)
  redis.call('PEXPIRE', history, keep)
  return tonumber(seq), epoch
end
local function now()
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(t[2] / 1000))
end
`;

/**
 * keep(hash, history, entry, size cap, byte cap): keeps the entry, then drops the oldest while the
 * history holds more entries or more bytes than its caps. The hash's `bytes` is the sum of the
 * history's entry lengths (Lua strings are bytes), kept up to date here rather than summed on each
 * append; it is summed once when missing (a history kept by an older version) and starts again at 0
 * whenever the history is gone. An entry larger than the byte cap alone is not kept, and neither is
 * anything before it, since no replay could reach across it.
 */
const KEEP = `
local function keep(hash, history, entry, size, maxBytes)
  local bytes = tonumber(redis.call('HGET', hash, 'bytes'))
  local count = redis.call('LLEN', history)
  if count == 0 then
    bytes = 0
  elseif not bytes then
    bytes = 0
    for _, old in ipairs(redis.call('LRANGE', history, 0, -1)) do bytes = bytes + string.len(old) end
  end
  if string.len(entry) > maxBytes then
    redis.call('DEL', history)
    redis.call('HSET', hash, 'bytes', 0)
    return
  end
  redis.call('RPUSH', history, entry)
  count = count + 1
  bytes = bytes + string.len(entry)
  while count > size or bytes > maxBytes do
    local old = redis.call('LPOP', history)
    if not old then bytes = 0 break end
    count = count - 1
    bytes = bytes - string.len(old)
  end
  redis.call('HSET', hash, 'bytes', bytes)
end
`;

/**
 * The one step of an event for one stream, atomic, so that what several instances rely on holds
 * whatever they do: KEYS fence, hash, history, lock, written; ARGV lease, new epoch, expiry ms,
 * message JSON (an object without seq/epoch), history size, window ms, channel, stream, leave JSON
 * ('' or `,"leave":{…}`), drop ('1' or ''), history bytes.
 *
 * Refused when the lease is not the valid one ('fenced': another consumer writes now); waits while a
 * join holds the stream's lock ('locked'); 'duplicate' when this event was written to this stream
 * within the window. Otherwise numbers the message, keeps the entry in history (within both caps,
 * see keep), marks the event written, and publishes the entry to every instance: numbering and
 * handing out cannot be separated, so every instance receives each stream's entries in the order
 * they were numbered.
 */
export const APPEND = new Script(`${OPEN}${KEEP}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'fenced'} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'locked'} end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'duplicate'} end
local seq, epoch = open(KEYS[2], KEYS[3], ARGV[2], ARGV[3])
seq = seq + 1
redis.call('HSET', KEYS[2], 'seq', seq)
local body = ARGV[4]
local rest = body == '{}' and '}' or (',' .. string.sub(body, 2))
local entry = '{"stream":"' .. ARGV[8] .. '","seq":' .. seq .. ',"at":' .. now() .. ARGV[9]
  .. ',"message":{"seq":' .. seq .. ',"epoch":"' .. epoch .. '"' .. rest .. '}'
keep(KEYS[2], KEYS[3], entry, tonumber(ARGV[5]), tonumber(ARGV[11]))
-- open() could not arm the expiry of a history that did not exist yet.
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('SET', KEYS[5], seq, 'PX', ARGV[6])
redis.call('PUBLISH', ARGV[7], entry)
if ARGV[10] == '1' then redis.call('DEL', KEYS[2], KEYS[3]) end
return {'appended', seq}`);

/** KEYS hash, history; ARGV new epoch, expiry ms. The head, the server's clock (ms) and the history. */
export const SINCE = new Script(`${OPEN}
local seq, epoch = open(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return {seq, epoch, now(), redis.call('LRANGE', KEYS[2], 0, -1)}`);

/** KEYS hash, history; ARGV new epoch, expiry ms. The head and the server's clock (ms). */
export const HEAD = new Script(`${OPEN}
local seq, epoch = open(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return {seq, epoch, now()}`);

/**
 * A membership fact, compared and set in one step: KEYS fence, key; ARGV lease, fact JSON
 * ({change, at}), expiry ms. 'fenced' while the lease is not the valid one; 'stale' when the kept fact
 * is later, or at the same time and outranks it (a removal or deletion over an addition), leaving the
 * kept one and its expiry alone; else sets the key: 'recorded'. The rule is outcomeOf's
 * (membership-order.ts); keep the two equal. A kept value that does not parse is replaced.
 */
export const RECORD_FACT = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'fenced' end
local rank = { added = 0, removed = 1, deleted = 1 }
local fact = cjson.decode(ARGV[2])
local raw = redis.call('GET', KEYS[2])
if raw then
  local ok, kept = pcall(cjson.decode, raw)
  if ok and type(kept) == 'table' and type(kept.at) == 'number' and rank[kept.change] then
    if fact.at < kept.at or (fact.at == kept.at and rank[fact.change] < rank[kept.change]) then return 'stale' end
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 'recorded'`);

/** KEYS key; ARGV value. Deletes the key only while it still holds that value (our lock token). */
export const DELETE_IF = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);
