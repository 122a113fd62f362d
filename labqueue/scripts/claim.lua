-- claim.lua: the worker's hot path in one round trip: ack the jobs it finished, promote due
-- retries, then claim up to N waiting jobs into the processing list, each with a lease.
-- KEYS[1] waiting  KEYS[2] processing  KEYS[3] inflight  KEYS[4] attempts  KEYS[5] leases
-- KEYS[6] delayed  KEYS[7] dlq  KEYS[8] dlq:meta  KEYS[9] seq
-- ARGV[1] now  ARGV[2] lease deadline  ARGV[3] N to claim  ARGV[4] K ids to ack  ARGV[5..4+K] ids
-- Returns {acked, next_due, raw1, attempts1, raw2, attempts2, ...}; next_due is the run-at time of
-- the earliest delayed retry as a string, or '' when there is none.
local now = ARGV[1]
local acked = 0
local k = tonumber(ARGV[4])
for i = 5, 4 + k do
  local id = ARGV[i]
  local raw = redis.call('HGET', KEYS[3], id)
  if raw then
    redis.call('LREM', KEYS[2], 1, raw)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('ZREM', KEYS[5], id)
    acked = acked + 1
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, 100)
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[6], raw)
  redis.call('LPUSH', KEYS[1], raw)
end
local result = {acked, ''}
local nxt = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
if #nxt > 0 then
  result[2] = nxt[2]
end
local n = tonumber(ARGV[3])
while n > 0 do
  local raw = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not raw then
    break
  end
  local ok, job = pcall(cjson.decode, raw)
  if ok and type(job) == 'table' and type(job.id) == 'string' then
    redis.call('HSET', KEYS[3], job.id, raw)
    redis.call('ZADD', KEYS[5], ARGV[2], job.id)
    result[#result + 1] = raw
    result[#result + 1] = redis.call('HINCRBY', KEYS[4], job.id, 1)
    n = n - 1
  else
    -- DLQ first, LREM last: if a write fails (a key of the wrong type), the entry stays in
    -- processing and recovery brings it back, instead of vanishing.
    local key = 'invalid:' .. redis.call('INCR', KEYS[9])
    redis.call('HSET', KEYS[7], key, raw)
    redis.call('HSET', KEYS[8], key, '{"reason":"entry is not a JSON job with a string id","failed_at":'
      .. now .. ',"attempts":0,"invalid":true}')
    redis.call('LREM', KEYS[2], 1, raw)
  end
end
return result
