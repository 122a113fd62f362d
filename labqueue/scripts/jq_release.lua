-- jq_release.lua: hand back a job claimed but not run (its worker is stopping): it leaves `active`
-- and is ready again where it stood: first in line (with a priority: ahead of every job of its level;
-- a Worker releases its batch last first, so the batch keeps its order); the delivery is no failure, and
-- its rate-limiter slot is given back.
-- KEYS[1..8] (JobQueueKeys.for_script('release'), only the keys it uses): jobs wait prio active runs meta
--   marker limiter
-- ARGV[1] '' (unused here)  ARGV[2] events maxlen  ARGV[3] job id  ARGV[4] delivery token
-- Returns 3 (Outcome.RELEASED), or 0 (NOT_OURS: the job is no longer this delivery's; nothing written).
local jobs, wait, prio, active, runs, meta, marker, limiter =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [active] = 'zset',
  [runs] = 'hash', [meta] = 'hash', [marker] = 'list', [limiter] = 'zset'})
if bad then
  return bad
end
local id = ARGV[3]
if redis.call('HGET', runs, id) ~= ARGV[4] or not redis.call('ZSCORE', active, id) then
  return 0
end
redis.call('ZREM', active, id)
redis.call('ZREM', limiter, id .. ':' .. ARGV[4])
ready(id, tonumber(options(redis.call('HGET', jobs, id)).priority) or 0, true)  -- first in line again
wake(1)
return 3
