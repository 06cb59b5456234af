import type { ChainableCommander, Redis } from 'ioredis';

// The Redis engine's atomic steps, as Lua: each runs alone on the server, so that
// numbering and publishing a room message, or joining and leaving, cannot interleave
// between nodes. Keys are passed in KEYS (so that they are declared), values in ARGV.
// They are defined on each client with defineCommand: ioredis sends a script's text on
// its first call on a connection, and EVALSHA after that.

/**
 * A room stream: KEYS[1] its hash {epoch, offset, maxAge}, KEYS[2] the list of its kept
 * messages (oldest first, each "offset:time:frame"). Drops what is past its age.
 * Shared by the scripts below.
 */
const STREAM = `
local function stream(meta, kept, now, newEpoch, idle)
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    epoch = newEpoch
    redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
  end
  local maxAge = tonumber(redis.call('HGET', meta, 'maxAge') or '-1')
  if maxAge >= 0 then
    while true do
      local head = redis.call('LINDEX', kept, 0)
      if not head then break end
      local _, _, at = string.find(head, '^%d+:(%d+):')
      if now - tonumber(at) < maxAge then break end
      redis.call('LPOP', kept)
    end
  end
  idle = math.max(idle, maxAge)
  redis.call('PEXPIRE', meta, idle)
  redis.call('PEXPIRE', kept, idle)
  return epoch, tonumber(redis.call('HGET', meta, 'offset'))
end
`;

/**
 * Numbers a room message, keeps it, and publishes it, atomically.
 * KEYS: meta, kept, channel. ARGV: body, the published header up to its offset (JSON
 * ending in `"o":`, built by the caller: Lua decodes and encodes no JSON on this path),
 * maxCount, maxAge, now, newEpoch, idle, the publish command (PUBLISH, or SPUBLISH for
 * sharded pub/sub). The published payload is the header closed with the offset and
 * `"p"` (the epoch) + "\n" + the closed frame; returns {epoch, offset}.
 */
const PUBLISH_TO_ROOM = `${STREAM}
local meta, kept, channel = KEYS[1], KEYS[2], KEYS[3]
local body, header = ARGV[1], ARGV[2]
local maxCount, maxAge, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('HSET', meta, 'maxAge', maxAge)
local epoch = stream(meta, kept, now, ARGV[6], tonumber(ARGV[7]))
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local frame = body .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}'
if maxCount > 0 then
  redis.call('RPUSH', kept, offset .. ':' .. now .. ':' .. frame)
  redis.call('LTRIM', kept, -maxCount, -1)
  redis.call('PEXPIRE', kept, tonumber(ARGV[7]))
end
redis.call(ARGV[8], channel, header .. offset .. ',"p":"' .. epoch .. '"}\\n' .. frame)
return {epoch, offset}
`;

/**
 * A room's position and the kept messages after `since`, as readRoom says.
 * KEYS: meta, kept. ARGV: sinceEpoch ("" for none), sinceOffset, limit, now, newEpoch, idle.
 * Returns {epoch, offset, recovered (0/1), entry...}.
 */
const READ_ROOM = `${STREAM}
local meta, kept = KEYS[1], KEYS[2]
local sinceEpoch, sinceOffset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local epoch, offset = stream(meta, kept, tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]))
local length = redis.call('LLEN', kept)
local first = offset - length + 1
if sinceEpoch == '' then
  if limit <= 0 or length == 0 then return {epoch, offset, 1} end
  local from = math.max(0, length - limit)
  local result = {epoch, offset, 1}
  for _, entry in ipairs(redis.call('LRANGE', kept, from, -1)) do table.insert(result, entry) end
  return result
end
if sinceEpoch ~= epoch or sinceOffset > offset then return {epoch, offset, 0} end
local missed = offset - sinceOffset
if missed == 0 then return {epoch, offset, 1} end
if missed > limit or length == 0 or sinceOffset + 1 < first then return {epoch, offset, 0} end
local result = {epoch, offset, 1}
for _, entry in ipairs(redis.call('LRANGE', kept, sinceOffset + 1 - first, -1)) do
  table.insert(result, entry)
end
return result
`;

/**
 * Adds a member. KEYS: room hash, members zset, member hash, users hash, user's rooms set
 * ("" key when anonymous), sequence counter. ARGV: room, connectionId, member JSON,
 * userId ("" when anonymous), now. Returns {created, persistent, size, firstOfUser}.
 */
const ADD_MEMBER = `
local roomKey, order, members, users, userRooms, sequence = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local room, connectionId, member, userId, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', roomKey) == 0 then
  redis.call('HSET', roomKey, 'created', now, 'persistent', 0)
end
local first = 0
if redis.call('HSETNX', members, connectionId, member) == 1 then
  redis.call('ZADD', order, redis.call('INCR', sequence), connectionId)
  if userId ~= '' then
    if redis.call('HINCRBY', users, userId, 1) == 1 then
      first = 1
      redis.call('SADD', userRooms, room)
    end
  end
end
local record = redis.call('HMGET', roomKey, 'created', 'persistent')
return {tonumber(record[1]), tonumber(record[2]), redis.call('HLEN', members), first}
`;

/**
 * Removes a member; a room that is not persistent goes with its last one. KEYS as
 * ADD_MEMBER (the user's key from the stored member). ARGV: room, connectionId, prefix.
 * Returns {removed, lastOfUser}.
 */
const REMOVE_MEMBER = `
local roomKey, order, members, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local room, connectionId, prefix = ARGV[1], ARGV[2], ARGV[3]
local member = redis.call('HGET', members, connectionId)
if not member then return {0, 0} end
redis.call('HDEL', members, connectionId)
redis.call('ZREM', order, connectionId)
local last = 0
local userId = cjson.decode(member).userId
if userId then
  if redis.call('HINCRBY', users, userId, -1) <= 0 then
    redis.call('HDEL', users, userId)
    redis.call('SREM', prefix .. 'ur:' .. userId, room)
    last = 1
  end
end
if redis.call('HLEN', members) == 0 and redis.call('HGET', roomKey, 'persistent') ~= '1' then
  redis.call('DEL', roomKey, order, members, users)
end
return {1, last}
`;

/** Deletes a room with its members. KEYS as REMOVE_MEMBER. ARGV: room, prefix. Returns 0/1. */
const DELETE_ROOM = `
local roomKey, order, members, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local room, prefix = ARGV[1], ARGV[2]
local existed = redis.call('EXISTS', roomKey)
for _, userId in ipairs(redis.call('HKEYS', users)) do
  redis.call('SREM', prefix .. 'ur:' .. userId, room)
end
redis.call('DEL', roomKey, order, members, users)
return existed
`;

/**
 * Records a live connection. KEYS: user hash, connections hash, sweep zset.
 * ARGV: userId, connectionId, expiresAt, now. Returns {cameOnline, status, meta, since, connections}.
 */
const ADD_PRESENCE = `
local user, connections, sweep = KEYS[1], KEYS[2], KEYS[3]
local userId, connectionId, expiresAt, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local came = 0
if redis.call('EXISTS', user) == 0 then
  came = 1
  redis.call('HSET', user, 'status', 'online', 'meta', 'null', 'since', now)
end
redis.call('HDEL', user, 'emptySince')
redis.call('HSET', connections, connectionId, expiresAt)
redis.call('ZADD', sweep, 'LT', expiresAt, userId)
local record = redis.call('HMGET', user, 'status', 'meta', 'since')
return {came, record[1], record[2], tonumber(record[3]), redis.call('HLEN', connections)}
`;

/**
 * Pushes back a connection's expiry, only while it is recorded (HSET alone would bring
 * back a removed one). KEYS: connections hash. ARGV: connectionId, expiresAt.
 */
const REFRESH_PRESENCE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`;

/** Forgets one connection. KEYS: user hash, connections hash, sweep zset. ARGV: userId, connectionId, now. */
const REMOVE_PRESENCE = `
local user, connections, sweep = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HDEL', connections, ARGV[2]) == 1 and redis.call('HLEN', connections) == 0 then
  redis.call('HSET', user, 'emptySince', ARGV[3])
  redis.call('ZADD', sweep, 'LT', ARGV[3], ARGV[1])
end
return 0
`;

/**
 * Sets a chosen status. KEYS: user hash, connections hash. ARGV: status, meta JSON, now.
 * Returns {} when offline, else {old status, old meta, old since, new since, connections}.
 */
const SET_STATUS = `
local user, connections = KEYS[1], KEYS[2]
if redis.call('EXISTS', user) == 0 then return {} end
local old = redis.call('HMGET', user, 'status', 'meta', 'since')
redis.call('HSET', user, 'status', ARGV[1], 'meta', ARGV[2], 'since', ARGV[3])
return {old[1], old[2], tonumber(old[3]), tonumber(ARGV[3]), redis.call('HLEN', connections)}
`;

/**
 * Drops expired connections and the records of users empty for offlineDelay, each
 * returned to exactly one caller. KEYS: sweep zset. ARGV: now, offlineDelay, prefix.
 * Returns the gone users' {userId, status, meta, since} as a flat list.
 */
const EXPIRE_PRESENCE = `
local sweep = KEYS[1]
local now, delay, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local gone = {}
for _, userId in ipairs(redis.call('ZRANGEBYSCORE', sweep, '-inf', now)) do
  local user, connections = prefix .. 'p:' .. userId, prefix .. 'pc:' .. userId
  local earliest = nil
  local all = redis.call('HGETALL', connections)
  for i = 1, #all, 2 do
    local expiresAt = tonumber(all[i + 1])
    if expiresAt <= now then
      redis.call('HDEL', connections, all[i])
    elseif not earliest or expiresAt < earliest then
      earliest = expiresAt
    end
  end
  if earliest then
    redis.call('ZADD', sweep, earliest, userId)
  else
    local emptySince = tonumber(redis.call('HGET', user, 'emptySince') or '-1')
    if emptySince < 0 then
      redis.call('HSET', user, 'emptySince', now)
      emptySince = now
    end
    if now - emptySince >= delay then
      local record = redis.call('HMGET', user, 'status', 'meta', 'since')
      if record[1] then
        table.insert(gone, userId)
        table.insert(gone, record[1])
        table.insert(gone, record[2])
        table.insert(gone, record[3])
      end
      redis.call('DEL', user, connections)
      redis.call('ZREM', sweep, userId)
    else
      redis.call('ZADD', sweep, emptySince + delay, userId)
    end
  end
end
return gone
`;

/** Each script, by the name of the command it becomes, with its number of keys. */
const SCRIPTS = {
  rtPublishToRoom: [3, PUBLISH_TO_ROOM],
  rtReadRoom: [2, READ_ROOM],
  rtAddMember: [6, ADD_MEMBER],
  rtRemoveMember: [4, REMOVE_MEMBER],
  rtDeleteRoom: [4, DELETE_ROOM],
  rtAddPresence: [3, ADD_PRESENCE],
  rtRefreshPresence: [1, REFRESH_PRESENCE],
  rtRemovePresence: [3, REMOVE_PRESENCE],
  rtSetStatus: [2, SET_STATUS],
  rtExpirePresence: [1, EXPIRE_PRESENCE],
} as const satisfies Record<string, readonly [number, string]>;

type ScriptName = keyof typeof SCRIPTS;
type ScriptArgument = string | number | Buffer;

/**
 * A client with the scripts as commands (keys first, then arguments).
 *
 * @example
 * ```ts
 * const [epoch, offset] = (await redis.rtPublishToRoom(meta, kept, channel, ...args)) as [string, number];
 * ```
 */
export type ScriptedRedis = Redis & {
  [Name in ScriptName]: (...args: ScriptArgument[]) => Promise<unknown>;
} & {
  /** The same, answering with buffers. */
  [Name in ScriptName as `${Name}Buffer`]: (...args: ScriptArgument[]) => Promise<unknown>;
};

/**
 * A pipeline of a {@link ScriptedRedis}, with the scripts.
 *
 * @example
 * ```ts
 * const pipeline = redis.pipeline() as ScriptedPipeline;
 * pipeline.rtRefreshPresence(key, connectionId, expiresAt);
 * await pipeline.exec();
 * ```
 */
export type ScriptedPipeline = ChainableCommander & {
  [Name in ScriptName]: (...args: ScriptArgument[]) => ScriptedPipeline;
};

/**
 * Defines the scripts as commands of a client (a user's own client too: the commands
 * are named `rt...`, and defining them twice is harmless).
 *
 * @example
 * ```ts
 * const redis = withScripts(new Redis(url));
 * await redis.rtRefreshPresence(key, connectionId, expiresAt);
 * ```
 */
export function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys, lua });
  }
  return redis as ScriptedRedis;
}
