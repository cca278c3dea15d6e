package redisstore

import "github.com/redis/rueidis"

// The Lua scripts the store runs in Redis. Each write is one script, so that
// what it checks and what it writes happen together: Redis runs a script
// alone, and in a Cluster every key a script names lives in one slot (the
// session's, or the app's, by their hash tags).

// nowMS is Redis's own clock in milliseconds, so that instances whose clocks
// differ agree on what expired.
const nowMS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// indexFn adds a session to the list of sessions (a sorted set by -Updated
// in µs, read in ascending order: newest first, ties by id) and keeps, in a
// second sorted set, when its session expires; each call drops a few of the
// expired ones, so the list does not grow with every call ever taken.
const indexFn = `
local function index(idx, exp, member, score, ttl)
  local now = now_ms()
  local gone = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 16)
  for _, m in ipairs(gone) do
    redis.call('ZREM', idx, m)
    redis.call('ZREM', exp, m)
  end
  redis.call('ZADD', idx, score, member)
  redis.call('ZADD', exp, now + tonumber(ttl), member)
end
`

// commitLua applies one event (or a Register, when the token is empty):
//
//	KEYS: lease, session, transcript, reply[, index, index expiry]
//	ARGV: token, version read, session record, entry record, reply body,
//	      "1" if there is a reply, session TTL ms, reply TTL ms,
//	      entries kept, session id, index score
//
// It answers 1 when applied, 0 when the lease is not the token's or the
// session no longer counts the events read (nothing written). The index keys
// are given only where they live with the session (not in a Cluster).
const commitLua = nowMS + indexFn + `
local token = ARGV[1]
if token ~= '' and redis.call('GET', KEYS[1]) ~= token then return 0 end
local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
if n ~= tonumber(ARGV[2]) then return 0 end
if n == 0 then redis.call('DEL', KEYS[3]) end
local ttl = ARGV[7]
redis.call('HSET', KEYS[2], 'n', n + 1, 's', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[9]), -1)
redis.call('PEXPIRE', KEYS[3], ttl)
if ARGV[6] == '1' then redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[8]) end
if token ~= '' then redis.call('DEL', KEYS[1]) end
if #KEYS > 4 then index(KEYS[5], KEYS[6], ARGV[10], ARGV[11], ttl) end
return 1
`

var commitScript = rueidis.NewLuaScript(commitLua)

// indexScript is index on its own, for a Cluster, where the list of sessions
// is one key in its own slot: KEYS index, index expiry; ARGV session id,
// score, session TTL ms.
var indexScript = rueidis.NewLuaScript(nowMS + indexFn + `
index(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return 1
`)

// beginScript is Begin: it takes a lease that nobody holds, or that the
// token already holds (a Begin sent again after its connection broke may
// find its first try applied), and reads the session; or, when the event's
// reply is stored, answers it and takes no lease (giving back one a first
// try took):
//
//	KEYS: lease, session, reply
//	ARGV: token, ttl ms, "1" if the event has a reply key
//
// It answers {0} when another token holds the lease, {1[, session]} with
// the lease taken, {2, reply} for a redelivery.
//
// renewScript and releaseScript act on a lease only while it holds the
// token: KEYS lease; ARGV token[, ttl ms]. They answer 1 if it did.
var (
	beginScript = rueidis.NewLuaScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return {0} end
if ARGV[3] == '1' then
  local r = redis.call('GET', KEYS[3])
  if r then
    if v then redis.call('DEL', KEYS[1]) end
    return {2, r}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local s = redis.call('HGET', KEYS[2], 's')
if s then return {1, s} end
return {1}
`)
	renewScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)
	releaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)
)

// An app's kv is four keys in the app's slot: a hash of key → value, a sorted
// set of its keys (all scored 0, so in key order for listing), a sorted set
// of the keys that expire by when (ms), and the bytes of keys and values
// held. Expired keys are removed by the next write or list (at most 1000 at
// a time, all of them before a write is refused), and a read treats them as
// gone; nothing else removes them, so the counts stay exact.
//
//	KEYS: values, keys, expiries, bytes
const kvFns = nowMS + `
local now = now_ms()
local function remove(k, v)
  if v then redis.call('DECRBY', KEYS[4], #k + #v) end
  redis.call('HDEL', KEYS[1], k)
  redis.call('ZREM', KEYS[2], k)
  redis.call('ZREM', KEYS[3], k)
end
local function purge(limit)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  for _, k in ipairs(gone) do remove(k, redis.call('HGET', KEYS[1], k)) end
  return #gone
end
local function live(k)
  local v = redis.call('HGET', KEYS[1], k)
  if not v then return false end
  local exp = redis.call('ZSCORE', KEYS[3], k)
  if exp and tonumber(exp) <= now then return false end
  return v
end
`

// kvWriteScript sets, increments or deletes one key within the app's quota:
//
//	ARGV: op ("set", "incr", "del"), key, value or delta, ttl ms (0: none),
//	      quota keys, quota bytes (0: no bound)
//
// It answers {0, value stored}, {1, keys, bytes} when the write would take
// the app over its quota, {2, value} when incr finds no number, {3, value}
// when the sum is not finite.
var kvWriteScript = rueidis.NewLuaScript(kvFns + `
local purged = purge(1000)
local op, key = ARGV[1], ARGV[2]
local cur = redis.call('HGET', KEYS[1], key)
if cur and not live(key) then remove(key, cur); cur = false end
local nextv = false
if op == 'set' then
  nextv = ARGV[3]
elseif op == 'incr' then
  local n = 0
  if cur then
    n = string.find(cur, '^%-?%d+%.?%d*[eE]?[%-+]?%d*$') and tonumber(cur)
    if not n then return {2, cur} end
  end
  local r = n + tonumber(ARGV[3])
  if r ~= r or r == math.huge or r == -math.huge then return {3, cur or '0'} end
  for _, f in ipairs({'%.15g', '%.16g', '%.17g'}) do
    nextv = string.format(f, r)
    if tonumber(nextv) == r then break end
  end
end
local qk, qb = tonumber(ARGV[5]), tonumber(ARGV[6])
local function over()
  local keys = redis.call('HLEN', KEYS[1])
  local bytes = tonumber(redis.call('GET', KEYS[4]) or '0')
  local k, b = keys, bytes
  if cur then k = k - 1; b = b - #key - #cur end
  if nextv then k = k + 1; b = b + #key + #nextv end
  if (qk > 0 and k > qk and k > keys) or (qb > 0 and b > qb and b > bytes) then return {1, k, b} end
  return false
end
local refused = over()
if refused and purged == 1000 then
  while purge(1000) > 0 do end
  refused = over()
end
if refused then return refused end
if not nextv then
  remove(key, cur)
  return {0, ''}
end
if cur then redis.call('DECRBY', KEYS[4], #key + #cur) end
redis.call('HSET', KEYS[1], key, nextv)
redis.call('ZADD', KEYS[2], 0, key)
redis.call('INCRBY', KEYS[4], #key + #nextv)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('ZADD', KEYS[3], now + ttl, key)
elseif op == 'set' then
  redis.call('ZREM', KEYS[3], key)
end
return {0, nextv}
`)

// kvGetScript reads one live key: ARGV key. It answers the value or nil.
// (EVALSHA, not EVALSHA_RO: Redis 6 lacks it.)
var kvGetScript = rueidis.NewLuaScript(kvFns + `
return live(ARGV[1])
`)

// kvListScript lists live keys with a prefix in key order:
//
//	ARGV: prefix, limit (0: all), max bytes (0: no bound)
//
// It answers {0, key, value, key, value, …}, or {1} past max bytes.
var kvListScript = rueidis.NewLuaScript(kvFns + `
purge(1000)
local prefix, limit, maxb = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out, n, size = {0}, 0, 0
local from = '-'
if prefix ~= '' then from = '[' .. prefix end
while true do
  local keys = redis.call('ZRANGEBYLEX', KEYS[2], from, '+', 'LIMIT', 0, 1000)
  if #keys == 0 then return out end
  for _, k in ipairs(keys) do
    if string.sub(k, 1, #prefix) ~= prefix then return out end
    local v = live(k)
    if v then
      if limit > 0 and n >= limit then return out end
      size = size + #k + #v
      if maxb > 0 and size > maxb then return {1} end
      n = n + 1
      out[#out + 1] = k
      out[#out + 1] = v
    end
  end
  from = '(' .. keys[#keys]
end
`)
