-- jq_unrepeat.lua: stop a repeatable job: forget its key and remove its pending occurrence (if it
-- has not started yet), so no worker schedules a next one.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] repeat key
-- Returns 1 when the repeatable job existed, else 0.
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [delayed] = 'zset',
  [repeats] = 'hash'})
if bad then
  return bad
end
local id = redis.call('HGET', repeats, ARGV[1])
if not id then
  return 0
end
redis.call('HDEL', repeats, ARGV[1])
local pending = redis.call('ZREM', delayed, id) + redis.call('ZREM', prio, id) + redis.call('LREM', wait, 0, id)
if pending > 0 then
  redis.call('HDEL', jobs, id)
end
return 1
