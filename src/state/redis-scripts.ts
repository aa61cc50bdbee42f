import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorReply, type RedisClientType } from 'redis';
import { StoreUnavailableError } from './stores.js';

type Reply = Awaited<ReturnType<RedisClientType['eval']>>;

/**
 * Runs one exchange with Redis; whatever fails in it is the store's failure, never the event's. A
 * failure that is the store's already (an exchange made of others) passes as it is.
 */
export async function redis<R>(what: string, exchange: () => Promise<R>): Promise<R> {
  try {
    return await exchange();
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
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
 * open(hash, history, new epoch, expiry ms, rid) → seq, epoch: the stream's head. A stream that is
 * missing (expired, evicted, dropped), or that another Redis process kept (`rid`, this process's
 * run_id: Redis restarted, failed over or came back from a snapshot, and may have lost or rolled back
 * writes), starts again at seq 0 under the new epoch; its history goes with it. Both keys' expiry is
 * re-armed together.
 */
const OPEN = `
local function runId()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
end
local function open(hash, history, fresh, keep, rid)
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
 * keep(history, entry, bytes, size cap, byte cap) → bytes, count: keeps the entry, then drops the
 * oldest while the history holds more entries or more bytes than its caps; answers the bytes and
 * entries it holds then (Lua strings are bytes; count 1: the list is new). `bytes` is the history's total before, as the stream's hash keeps it up to
 * date rather than summed on each append: summed once when missing (a history kept by an older
 * version), and 0 again whenever the history is gone. An entry larger than the byte cap alone is not
 * kept, and neither is anything before it, since no replay could reach across it.
 */
const KEEP = `
local function keep(history, entry, bytes, size, maxBytes)
  if string.len(entry) > maxBytes then
    redis.call('DEL', history)
    return 0, 0
  end
  local count = redis.call('RPUSH', history, entry)
  if count == 1 then
    bytes = string.len(entry)
  elseif not bytes then
    bytes = 0
    for _, old in ipairs(redis.call('LRANGE', history, 0, -1)) do bytes = bytes + string.len(old) end
  else
    bytes = bytes + string.len(entry)
  end
  while count > size or bytes > maxBytes do
    local old = redis.call('LPOP', history)
    if not old then return 0, 0 end
    count = count - 1
    bytes = bytes - string.len(old)
  end
  return bytes, count
end
`;

/** Keys and arguments each write adds to an APPEND call, after the call's own (APPEND_KEYS, APPEND_ARGS). */
export const APPEND_KEYS_PER_WRITE = 4;
export const APPEND_ARGS_PER_WRITE = 4;

/**
 * The one step of a batch of events' writes, each to its own stream, atomic, so that what several
 * instances rely on holds whatever they do. KEYS fence, then per write: hash, history, lock, written.
 * ARGV lease, new epoch (a prefix, unique per call: each write adds its index), expiry ms, history
 * size, window ms, channel, history bytes; then per write: message JSON (an object without
 * seq/epoch), stream, leave JSON ('' or `,"leave":{…}`), drop ('1' or '').
 *
 * Every write is refused when the lease is not the valid one ('fenced': another consumer writes
 * now). A write waits while a join holds its stream's lock ('locked'); it is 'duplicate' when its
 * event was written to its stream within the window. Otherwise its message is numbered, the entry
 * kept in history (within both caps, see keep), the event marked written, and the entry published to
 * every instance: numbering and handing out cannot be separated, so every instance receives each
 * stream's entries in the order they were numbered. Answers {outcome, seq} per write, in order.
 *
 * One call for every write of a turn of the event loop: the fence, the server's run_id and its
 * clock are read once, and the script is invoked once, where they had been per event. A stream's
 * expiry is re-armed when a quarter of it has passed since it was last (`armed`), not on every
 * write: its keys live at least 3/4 of the expiry (1.5 times the history age) after its last write.
 */
export const APPEND = new Script(`${OPEN}${KEEP}
local results = {}
local count = (#KEYS - 1) / ${APPEND_KEYS_PER_WRITE}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  for i = 1, count do results[#results + 1] = 'fenced'; results[#results + 1] = 0 end
  return results
end
local rid, at = runId(), now()
local keepMs, size, window, channel, maxBytes = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
-- Numbers become strings through printf and strings numbers through strtod: each once per call, not per write.
local rearmBefore = tonumber(at) - tonumber(keepMs) / 4
for i = 0, count - 1 do
  local hash, history, lock, written = KEYS[2 + 4 * i], KEYS[3 + 4 * i], KEYS[4 + 4 * i], KEYS[5 + 4 * i]
  local body, stream, leave, drop = ARGV[8 + 4 * i], ARGV[9 + 4 * i], ARGV[10 + 4 * i], ARGV[11 + 4 * i]
  if redis.call('EXISTS', lock, written) > 0 then
    results[#results + 1] = redis.call('EXISTS', lock) == 1 and 'locked' or 'duplicate'
    results[#results + 1] = 0
  else
    -- The stream's head, as open() reads it, with the bytes its history holds.
    local seq, epoch, owner, bytes, armed = unpack(redis.call('HMGET', hash, 'seq', 'epoch', 'rid', 'bytes', 'armed'))
    if not seq or owner ~= rid then
      seq, epoch, bytes, armed = 0, ARGV[2] .. '.' .. i, 0, nil
      redis.call('DEL', history)
      redis.call('HSET', hash, 'epoch', epoch, 'rid', rid)
    end
    seq = tostring(tonumber(seq) + 1)
    local rest = body == '{}' and '}' or (',' .. string.sub(body, 2))
    local entry = '{"stream":"' .. stream .. '","seq":' .. seq .. ',"at":' .. at .. leave
      .. ',"message":{"seq":' .. seq .. ',"epoch":"' .. epoch .. '"' .. rest .. '}'
    local kept
    bytes, kept = keep(history, entry, tonumber(bytes), size, maxBytes)
    if not armed or tonumber(armed) <= rearmBefore then
      redis.call('HSET', hash, 'seq', seq, 'bytes', bytes, 'armed', at)
      redis.call('PEXPIRE', hash, keepMs)
      redis.call('PEXPIRE', history, keepMs)
    else
      redis.call('HSET', hash, 'seq', seq, 'bytes', bytes)
      -- A history list made anew (its first entry) has no expiry yet.
      if kept == 1 then redis.call('PEXPIRE', history, keepMs) end
    end
    redis.call('SET', written, seq, 'PX', window)
    redis.call('PUBLISH', channel, entry)
    if drop == '1' then redis.call('DEL', hash, history) end
    results[#results + 1] = 'appended'; results[#results + 1] = tonumber(seq)
  end
end
return results`);

/** KEYS hash, history; ARGV new epoch, expiry ms. The head, the server's clock (ms) and the history. */
export const SINCE = new Script(`${OPEN}
local seq, epoch = open(KEYS[1], KEYS[2], ARGV[1], ARGV[2], runId())
return {seq, epoch, now(), redis.call('LRANGE', KEYS[2], 0, -1)}`);

/** KEYS hash, history; ARGV new epoch, expiry ms. The head and the server's clock (ms). */
export const HEAD = new Script(`${OPEN}
local seq, epoch = open(KEYS[1], KEYS[2], ARGV[1], ARGV[2], runId())
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
