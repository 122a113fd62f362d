-- jq_add.lua: add one or many jobs (JobQueue.add / add_bulk) in one atomic step.
-- KEYS[1..9] (JobQueueKeys.for_script('add'), only the keys it uses): jobs wait prio delayed meta marker
--   repeats repeat_copy metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's), then 5 per job: id ('' = next
-- integer id), JSON, priority (0 = none), when (a delay in s from now; for a repeatable job, the
-- unix time of its occurrence), repeat ('' = none, else 'first:' or 'next:' and the repeat key: a
-- 'next' occurrence is only added while its repeatable job still exists: while `repeats` or its copy names
-- it (both are written, and jq_unrepeat removes both: one of them moved aside by quarantine neither ends
-- a schedule nor brings back one removed; the next occurrence writes the lost one again).
-- A job whose id already exists is not added (deduplication). Due jobs go to `wait` (LPUSH; the
-- worker takes from the right) or `prio` (score priority * 2^32 + sequence: priority_score.lua), later
-- ones to `delayed`.
-- Idle workers are woken (LPUSH marker) for every ready job, and once for a delayed job due earlier
-- than everything already delayed: the woken worker's claim then reports the new next due time.
-- Returns {id1, added1, id2, added2, ...} with added 1 or 0.
local jobs, wait, prio, delayed, meta, marker, repeats, repeat_copy, metrics =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [delayed] = 'zset',
  [meta] = 'hash', [marker] = 'list', [repeats] = 'hash', [repeat_copy] = 'hash', [metrics] = 'hash'})
if bad then
  return bad
end
local last_id = redis.call('HGET', meta, 'id')  -- restarting it would reuse ids of live jobs: refuse
-- (past 2^53, less this call's jobs, Lua's doubles round: two jobs would read the same id)
if last_id and (not string.match(last_id, '^%d+$') or tonumber(last_id) >= EXACT - #ARGV) then
  return redis.error_reply('ERR jq_add: ' .. meta .. ' field id holds ' .. string.format('%q', last_id:sub(1, 40)) ..
    ', not a job counter: nothing added')
end
local now = clock(ARGV[1])
local out, woken = {}, 0
local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2]) or math.huge
for b = 2, #ARGV, 5 do
  local id, raw, priority, run_at = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local rmode, rkey = string.match(ARGV[b + 4], '^(%a*):?(.*)$')
  if rkey == '' then
    run_at = now + run_at
  end
  local added = 0
  local live = rkey == '' or rmode ~= 'next' or redis.call('HEXISTS', repeats, rkey) == 1
    or redis.call('HEXISTS', repeat_copy, rkey) == 1
  if live then
    if id == '' then
      id = string.format('%.0f', redis.call('HINCRBY', meta, 'id', 1))  -- tostring: 1e14 and 1e14 + 1 both '1e+14'
    end
    if redis.call('HSETNX', jobs, id, raw) == 1 then
      added = 1
      if rkey ~= '' then
        redis.call('HSET', repeats, rkey, id)
        redis.call('HSET', repeat_copy, rkey, id)
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
