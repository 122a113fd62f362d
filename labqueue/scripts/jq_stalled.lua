-- jq_stalled.lua: take back the jobs whose lease expired (their worker died or hung): each is ready again
-- where it stood, first in line (jq_lib.lua's ready(..., true): the front of `wait`, or, with a priority,
-- ahead of every job waiting at its level, as BullMQ), with a 'stalled' event, unless it already stalled
-- max_stalled times: then it is failed for good ("a poison pill must not loop forever").
-- KEYS[1..15] (JobQueueKeys.for_script('stalled'), only the keys it uses): jobs wait prio active failed
--   runs made stalls progress results errors meta marker events metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] max stalls allowed
-- Returns {requeued, failed, next_in}: next_in the seconds until the earliest lease still running
-- expires ('' if none), so the heartbeat can look again right when it does.
local jobs, wait, prio, active, failed, runs, made, stalls, progress, results, errors, meta, marker, events,
  metrics =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11],
  KEYS[12], KEYS[13], KEYS[14], KEYS[15]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [active] = 'zset',
  [failed] = 'zset', [runs] = 'hash', [made] = 'hash', [stalls] = 'hash', [progress] = 'hash',
  [results] = 'hash', [errors] = 'hash', [meta] = 'hash', [marker] = 'list', [events] = 'stream',
  [metrics] = 'hash'})
if bad then
  return bad
end
local max_stalled = tonumber(ARGV[3])
local now = clock(ARGV[1])
local requeued, dead = 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, '-inf', '(' .. now)) do
  redis.call('ZREM', active, id)
  local raw = redis.call('HGET', jobs, id)
  if raw then
    local n = incr('HINCRBY', stalls, id, 1)
    if n > max_stalled then
      local reason = 'job stalled ' .. n .. ' times (more than ' .. max_stalled .. ' allowed): its worker keeps dying'
      redis.call('HSET', errors, id, reason)
      redis.call('ZADD', failed, now, id)
      incr('HINCRBY', metrics, 'total_failed', 1)
      emit('event', 'failed', 'job', id, 'error', reason,
        'final', 1)
      trim(failed, id, options(raw).remove_on_fail)
      dead = dead + 1
    else
      ready(id, priority_of(options(raw)), true)  -- first in line again, at its own level
      wake(1)
      emit('event', 'stalled', 'job', id, 'stalls', n)
      requeued = requeued + 1
    end
  end
end
local nxt = redis.call('ZRANGE', active, 0, 0, 'WITHSCORES')
return {requeued, dead, nxt[2] and tostring(tonumber(nxt[2]) - now) or ''}
