-- lease.lua: lease a job that BLMOVE / BRPOPLPUSH just moved into the processing list.
-- KEYS[1] processing  KEYS[2] inflight  KEYS[3] attempts  KEYS[4] leases  KEYS[5] orphans
-- KEYS[6] dlq  KEYS[7] dlq:meta  KEYS[8] seq
-- ARGV[1] the serialised job as moved  ARGV[2] lease deadline (unix s)  ARGV[3] now (unix s)
-- Returns {1, attempts} when leased; {0} when the job is no longer in processing (recovery
-- re-queued it first); {-1} when the entry is not a job (it is moved to the dead-letter queue).
local raw = ARGV[1]
if not redis.call('LPOS', KEYS[1], raw) then
  return {0}
end
local ok, job = pcall(cjson.decode, raw)
if not ok or type(job) ~= 'table' or type(job.id) ~= 'string' then
  local key = 'invalid:' .. redis.call('INCR', KEYS[8])
  redis.call('HSET', KEYS[6], key, raw)  -- DLQ first, LREM last: a failed write loses nothing
  redis.call('HSET', KEYS[7], key, '{"reason":"entry is not a JSON job with a string id","failed_at":'
    .. ARGV[3] .. ',"attempts":0,"invalid":true}')
  redis.call('LREM', KEYS[1], 1, raw)
  return {-1}
end
redis.call('HSET', KEYS[2], job.id, raw)
redis.call('HDEL', KEYS[5], job.id)
redis.call('ZADD', KEYS[4], ARGV[2], job.id)
return {1, redis.call('HINCRBY', KEYS[3], job.id, 1)}
