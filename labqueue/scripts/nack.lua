-- nack.lua: end one delivery of an in-flight job that did not succeed.
-- KEYS[1] waiting  KEYS[2] processing  KEYS[3] inflight  KEYS[4] attempts  KEYS[5] leases
-- KEYS[6] delayed  KEYS[7] dlq  KEYS[8] dlq:meta
-- ARGV[1] delivery token ('<n>:<job id>')  ARGV[2] '' (the server's clock, TIME) or a fake now
-- ARGV[3] mode: 'retry', 'dead' or 'release'  ARGV[4] retry delay (s; 0 = at once)
-- ARGV[5] reason (a JSON string)  ARGV[6] max attempts
-- 'retry' re-queues (through the delayed set, due at now + delay by the server's clock) unless the
-- job's deliveries reached ARGV[6], then it goes to the dead-letter queue like 'dead'. 'release'
-- puts the job back at the head of the queue and does not count the delivery (a graceful stop).
-- Returns (labqueue.scripts.Outcome) 0 when the token is not a delivery in flight (its lease expired and recovery took the
-- job, or it was already acked: a late call changes nothing), 1 when re-queued, 2 when
-- dead-lettered, 3 when released.
-- Every branch writes the job to its destination first and removes it from processing last, so
-- a write that fails (a key of the wrong type) leaves the job in flight instead of losing it.
--- @include clock
--- @include dead_letter
local token = ARGV[1]
local raw = redis.call('HGET', KEYS[3], token)
if not raw then
  return 0
end
local id = string.match(token, '^%d+:(.*)$')
local now = clock(ARGV[2])
local function untrack()
  redis.call('LREM', KEYS[2], 1, raw)
  redis.call('HDEL', KEYS[3], token)
  redis.call('ZREM', KEYS[5], token)
end
local mode = ARGV[3]
if mode == 'release' then
  redis.call('RPUSH', KEYS[1], raw)
  untrack()
  if type(redis.pcall('HINCRBY', KEYS[4], id, -1)) == 'table' then
    redis.call('HSET', KEYS[4], id, 0)  -- a count holding junk restarts
  end
  return 3
end
local attempts = tonumber(redis.call('HGET', KEYS[4], id)) or 0  -- a count holding junk counts 0
if mode == 'retry' and attempts < tonumber(ARGV[6]) then
  local delay = tonumber(ARGV[4])
  if delay > 0 then
    redis.call('ZADD', KEYS[6], now + delay, raw)
  else
    redis.call('LPUSH', KEYS[1], raw)
  end
  untrack()
  return 1
end
-- a dead letter of the same id already there keeps its entry: this one goes under the token
dead_letter(KEYS[7], KEYS[8], id, tonumber(string.match(token, '^(%d+):')), raw, ARGV[5], now, attempts)
untrack()
redis.call('HDEL', KEYS[4], id)
return 2
