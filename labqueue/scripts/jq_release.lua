-- jq_release.lua: hand back jobs claimed but not run (their worker is stopping, or could not start them):
-- each leaves `active` and is ready again where it stood: first in line (with a priority: ahead of every
-- job of its level; a batch is given last first, so it keeps its order); the delivery is no failure, and
-- its rate-limiter slot is given back.
-- KEYS[1..8] (JobQueueKeys.for_script('release'), only the keys it uses): jobs wait prio active runs meta
--   marker limiter
-- ARGV[1] '' (unused here)  ARGV[2] events maxlen  ARGV[3..] job id, delivery token: one pair a job
-- Returns one code a job, in order: 3 (Outcome.RELEASED), or 0 (NOT_OURS: the job is no longer this
-- delivery's; nothing written for it).
local jobs, wait, prio, active, runs, meta, marker, limiter =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [active] = 'zset',
  [runs] = 'hash', [meta] = 'hash', [marker] = 'list', [limiter] = 'zset'})
if bad then
  return bad
end
local codes, released = {}, 0
for i = 3, #ARGV - 1, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  codes[#codes + 1] = 0
  if redis.call('HGET', runs, id) == token and redis.call('ZSCORE', active, id) then
    redis.call('ZREM', active, id)
    redis.call('ZREM', limiter, id .. ':' .. token)
    ready(id, priority_of(options(redis.call('HGET', jobs, id))), true)  -- first in line again
    codes[#codes], released = 3, released + 1
  end
end
if released > 0 then
  wake(released)
end
return codes
