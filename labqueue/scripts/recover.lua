-- recover.lua: re-queue the jobs of dead workers: every job whose lease expired, and every job
-- that sat in the processing list without a lease for longer than the grace period (a worker
-- that died between its BLMOVE and its lease, or a script that failed half-way on a key of the
-- wrong type: an inflight entry without a lease counts as no lease). A job whose deliveries reached its max_attempts
-- goes to the dead-letter queue instead. Live workers' jobs (lease in the future) are untouched.
-- KEYS[1] waiting  KEYS[2] processing  KEYS[3] inflight  KEYS[4] attempts  KEYS[5] leases
-- KEYS[6] orphans  KEYS[7] dlq  KEYS[8] dlq:meta
-- ARGV[1] now  ARGV[2] grace (s)  ARGV[3] default max attempts
-- Returns {requeued, dead_lettered, orphans_requeued}.
local now = tonumber(ARGV[1])
local requeued, dead, orphaned = 0, 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[1])) do
  local raw = redis.call('HGET', KEYS[3], id)
  if not raw then
    redis.call('ZREM', KEYS[5], id)
  else
    local attempts = tonumber(redis.call('HGET', KEYS[4], id) or '0')
    local ok, job = pcall(cjson.decode, raw)
    local max = tonumber(ARGV[3])
    if ok and type(job) == 'table' and tonumber(job.max_attempts) then
      max = tonumber(job.max_attempts)
    end
    -- destination first, removal last: a failed write (wrong key type) leaves the job in flight
    if attempts >= max then
      redis.call('HSET', KEYS[7], id, raw)
      redis.call('HSET', KEYS[8], id, '{"reason":"lease expired on delivery ' .. attempts .. ' of '
        .. max .. ': the worker died or hung","failed_at":' .. ARGV[1] .. ',"attempts":' .. attempts .. '}')
      redis.call('HDEL', KEYS[4], id)
      dead = dead + 1
    else
      redis.call('RPUSH', KEYS[1], raw)
      requeued = requeued + 1
    end
    redis.call('LREM', KEYS[2], 1, raw)
    redis.call('ZREM', KEYS[5], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
local seen = {}
for _, raw in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local ok, job = pcall(cjson.decode, raw)
  local leased = ok and type(job) == 'table' and type(job.id) == 'string'
    and redis.call('HEXISTS', KEYS[3], job.id) == 1 and redis.call('ZSCORE', KEYS[5], job.id) ~= false
  if not leased then
    local key = raw
    if ok and type(job) == 'table' and type(job.id) == 'string' then
      key = job.id
    end
    seen[key] = true
    local first = redis.call('HGET', KEYS[6], key)
    if not first then
      redis.call('HSET', KEYS[6], key, ARGV[1])
    elseif now - tonumber(first) >= tonumber(ARGV[2]) then
      redis.call('LREM', KEYS[2], 1, raw)
      redis.call('HDEL', KEYS[6], key)
      redis.call('RPUSH', KEYS[1], raw)
      orphaned = orphaned + 1
      seen[key] = nil
    end
  end
end
for _, key in ipairs(redis.call('HKEYS', KEYS[6])) do
  if not seen[key] then
    redis.call('HDEL', KEYS[6], key)
  end
end
return {requeued, dead, orphaned}
