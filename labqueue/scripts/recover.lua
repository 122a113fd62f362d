-- recover.lua: re-queue the jobs of dead workers: every delivery whose lease expired (by the
-- server's clock), and every job that sat in the processing list without a lease for longer than
-- the grace period (a worker that died between its BLMOVE and its lease, or a script that failed
-- half-way on a key of the wrong type: an inflight entry without a lease counts as no lease). A
-- job whose deliveries reached its max_attempts goes to the dead-letter queue instead (a
-- max_attempts that is not a finite number >= 1 counts as the queue's; an earlier dead letter of the
-- same id stays, this one goes under the token: dead_letter.lua). Live leases are untouched.
-- KEYS[1] waiting  KEYS[2] processing  KEYS[3] inflight  KEYS[4] attempts  KEYS[5] leases
-- KEYS[6] orphans  KEYS[7] dlq  KEYS[8] dlq:meta
-- ARGV[1] '' (the server's clock, TIME) or a fake now for tests  ARGV[2] grace (s)
-- ARGV[3] default max attempts
-- Returns {requeued, dead_lettered, orphans_requeued, next_in}: next_in the seconds until the
-- earliest lease still running expires ('' if none), so the heartbeat can look again right then.
--- @include clock
--- @include dead_letter
local now = clock(ARGV[1])
local requeued, dead, orphaned = 0, 0, 0
for _, token in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)) do
  local raw = redis.call('HGET', KEYS[3], token)
  local n, id = string.match(token, '^(%d+):(.*)$')
  if not raw or not id then
    redis.call('ZREM', KEYS[5], token)
  else
    local attempts = tonumber(redis.call('HGET', KEYS[4], id)) or 0  -- a count holding junk counts 0
    local ok, job = pcall(cjson.decode, raw)
    local max = tonumber(ARGV[3])
    local own = ok and type(job) == 'table' and tonumber(job.max_attempts)
    if own and own >= 1 and own < math.huge then
      max = own
    end
    -- destination first, removal last: a failed write (wrong key type) leaves the job in flight
    if attempts >= max then
      local reason = '"lease expired on delivery ' .. attempts .. ' of ' .. max .. ': the worker died or hung"'
      dead_letter(KEYS[7], KEYS[8], id, tonumber(n), raw, reason, now, attempts)  -- under the token if id is taken
      redis.call('HDEL', KEYS[4], id)
      dead = dead + 1
    else
      redis.call('RPUSH', KEYS[1], raw)
      requeued = requeued + 1
    end
    redis.call('LREM', KEYS[2], 1, raw)
    redis.call('ZREM', KEYS[5], token)
    redis.call('HDEL', KEYS[3], token)
  end
end
-- entries of the processing list not covered by a leased delivery are orphans
local leased = {}
local inflight = redis.call('HGETALL', KEYS[3])
for i = 1, #inflight, 2 do
  if redis.call('ZSCORE', KEYS[5], inflight[i]) then
    leased[inflight[i + 1]] = (leased[inflight[i + 1]] or 0) + 1
  else
    redis.call('HDEL', KEYS[3], inflight[i])  -- a delivery without a lease is no delivery
  end
end
local seen = {}
for _, raw in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local n = leased[raw]
  if n and n > 0 then
    leased[raw] = n - 1
  else
    local key = string.match(raw, '^{"id":"([^"\\]+)",')
    if not key then
      local ok, job = pcall(cjson.decode, raw)
      key = (ok and type(job) == 'table' and type(job.id) == 'string') and job.id or raw
    end
    seen[key] = true
    -- first seen when; junk, NaN, infinite or a time still to come (a clock set back) is no time:
    -- the grace starts now, instead of failing the script or never ending
    local first = tonumber(redis.call('HGET', KEYS[6], key))
    if not first or first ~= first or first > now or first == -math.huge then
      redis.call('HSET', KEYS[6], key, now)
    elseif now - first >= tonumber(ARGV[2]) then
      redis.call('RPUSH', KEYS[1], raw)
      redis.call('LREM', KEYS[2], 1, raw)
      redis.call('HDEL', KEYS[6], key)
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
local nxt = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
return {requeued, dead, orphaned, nxt[2] and tostring(tonumber(nxt[2]) - now) or ''}
