-- claim.lua: the worker's hot path in one round trip: ack the deliveries it finished, promote due
-- retries, then claim up to N waiting jobs into the processing list, each with a lease and a
-- delivery token.
-- KEYS[1] waiting  KEYS[2] processing  KEYS[3] inflight  KEYS[4] attempts  KEYS[5] leases
-- KEYS[6] delayed  KEYS[7] dlq  KEYS[8] dlq:meta  KEYS[9] seq
-- ARGV[1] '' (the server's clock, TIME) or a fake now for tests  ARGV[2] lease seconds
-- ARGV[3] N to claim  ARGV[4] K tokens to ack  ARGV[5..4+K] delivery tokens
-- Returns {acked, next_due_in, raw1, attempts1, token1, raw2, ...}; next_due_in is the number of
-- seconds until the earliest delayed retry is due, or '' when there is none.
-- A token is '<n>:<job id>' (n from INCR seq, next_number in clock.lua): one per delivery, so an ack only ever ends its own
-- delivery; a token whose lease was taken back (recovery) is simply not found.
-- Batched for speed: HMGET reads the acked deliveries, HDEL/HDEL/ZREM drop them, LREM scans the
-- processing list from its tail (the oldest claims sit there), and the claimed jobs get their
-- inflight entries and leases by HSET and ZADD, each one call per 1,000 values. A job's id is read by id_of (entry.lua):
-- a string match on labqueue's own JSON ({"id":"...",...}), cjson.decode for any other shape.
--- @include clock
--- @include entry
-- unpack() of a table longer than Lua's C stack (about 8,000 values) fails: every variadic call
-- below goes in chunks of CHUNK values (even: HSET and ZADD take pairs)
local CHUNK = 1000
local function call_chunked(command, key, args)  -- one reply per argument, in order (HMGET's)
  local replies = {}
  for i = 1, #args, CHUNK do
    local last = math.min(i + CHUNK - 1, #args)
    local part = redis.call(command, key, unpack(args, i, last))
    for j = i, last do  -- by index: a missing field (false) keeps its place
      replies[j] = part[j - i + 1]
    end
  end
  return replies
end
local function write_chunked(command, key, args)
  for i = 1, #args, CHUNK do
    redis.call(command, key, unpack(args, i, math.min(i + CHUNK - 1, #args)))
  end
end

local now = clock(ARGV[1])
local k = tonumber(ARGV[4])
local acked = 0
if k > 0 then
  local tokens = {}
  for i = 5, 4 + k do
    tokens[#tokens + 1] = ARGV[i]
  end
  local raws = call_chunked('HMGET', KEYS[3], tokens)  -- a missing field is false: kept in its place
  local found, ids = {}, {}
  for i = 1, k do
    if raws[i] then
      redis.call('LREM', KEYS[2], -1, raws[i])
      found[#found + 1] = tokens[i]
      ids[#ids + 1] = string.match(tokens[i], '^%d+:(.*)$')
    end
  end
  write_chunked('HDEL', KEYS[3], found)
  write_chunked('HDEL', KEYS[4], ids)
  write_chunked('ZREM', KEYS[5], found)
  acked = #found
end
local due = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, 100)
for _, raw in ipairs(due) do  -- the waiting list first: a push that fails (a key of the wrong type)
  redis.call('LPUSH', KEYS[1], raw)  -- leaves the retry in the delayed set instead of removed and lost
  redis.call('ZREM', KEYS[6], raw)
end
local result = {acked, ''}
local nxt = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
if #nxt > 0 then
  result[2] = tostring(tonumber(nxt[2]) - now)
end
local n = tonumber(ARGV[3])
local deadline = now + tonumber(ARGV[2])
local leases, inflight = {}, {}
while n > 0 do
  local raw = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not raw then
    break
  end
  local id = id_of(raw)
  if id then
    local token = next_number(KEYS[9]) .. ':' .. id
    leases[#leases + 1] = deadline
    leases[#leases + 1] = token
    inflight[#inflight + 1] = token
    inflight[#inflight + 1] = raw
    result[#result + 1] = raw
    local attempts = redis.pcall('HINCRBY', KEYS[4], id, 1)
    if type(attempts) == 'table' and attempts.err then  -- a count holding junk restarts: the job
      redis.call('HSET', KEYS[4], id, 1)                -- already moved must not be left unleased
      attempts = 1
    end
    result[#result + 1] = attempts
    result[#result + 1] = token
    n = n - 1
  else
    bury_invalid(raw, KEYS[9], KEYS[7], KEYS[8], KEYS[2], now)
  end
end
write_chunked('HSET', KEYS[3], inflight)
write_chunked('ZADD', KEYS[5], leases)
return result
