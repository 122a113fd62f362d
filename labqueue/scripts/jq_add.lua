-- jq_add.lua: add one or many jobs (JobQueue.add / add_bulk) in one atomic step.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] K jobs, then 7 per job: id ('' = next
-- integer id), JSON, priority (0 = none), run-at (unix s of a cron occurrence; 0 = now + delay),
-- delay (s), repeat key ('' = none), repeat mode ('first' or 'next': a 'next' occurrence is only
-- added while its repeatable job still exists).
-- A job whose id already exists is not added (deduplication). Due jobs go to `wait` (LPUSH; the
-- worker takes from the right) or `prio` (score priority * 2^32 + sequence), later ones to `delayed`.
-- Idle workers are woken (LPUSH marker) for every ready job, and once for a delayed job due earlier
-- than everything already delayed: the woken worker's claim then reports the new next due time.
-- Returns {id1, added1, id2, added2, ...} with added 1 or 0.
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [delayed] = 'zset',
  [meta] = 'hash', [marker] = 'list', [repeats] = 'hash', [metrics] = 'hash'})
if bad then
  return bad
end
local last_id = redis.call('HGET', meta, 'id')  -- restarting it would reuse ids of live jobs: refuse
if last_id and not string.match(last_id, '^%d+$') then
  return redis.error_reply('ERR jq_add: ' .. meta .. ' field id holds ' .. string.format('%q', last_id:sub(1, 40)) ..
    ', not a job counter: nothing added')
end
local now = clock(ARGV[1])
local out, woken = {}, 0
local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2]) or math.huge
for j = 0, tonumber(ARGV[3]) - 1 do
  local b = 4 + j * 7
  local id, raw, priority, run_at = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local rkey, rmode = ARGV[b + 5], ARGV[b + 6]
  if run_at == 0 then
    run_at = now + tonumber(ARGV[b + 4])
  end
  local added = 0
  local live = rkey == '' or rmode ~= 'next' or redis.call('HEXISTS', repeats, rkey) == 1
  if live then
    if id == '' then
      id = tostring(redis.call('HINCRBY', meta, 'id', 1))
    end
    if redis.call('HSETNX', jobs, id, raw) == 1 then
      added = 1
      if rkey ~= '' then
        redis.call('HSET', repeats, rkey, id)
      end
      if run_at > now then
        redis.call('ZADD', delayed, run_at, id)
        if run_at < earliest then  -- sooner than any worker plans to look: wake one to re-plan
          earliest = run_at
          woken = math.max(woken, 1)
        end
      else
        ready(id, priority)
        woken = woken + 1
      end
      incr('HINCRBY', metrics, 'total_enqueued', 1)
    end
  end
  out[#out + 1] = id
  out[#out + 1] = added
end
if woken > 0 then
  wake(woken)
end
return out
