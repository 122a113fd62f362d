-- jq_unrepeat.lua: stop a repeatable job: forget its key and remove its pending occurrence (if it
-- has not started yet), so no worker schedules a next one.
-- KEYS[1..5] (JobQueueKeys.for_script('unrepeat'), only the keys it uses): jobs wait prio delayed repeats
-- ARGV[1] repeat key
-- Returns 1 when the repeatable job existed, else 0.
local jobs, wait, prio, delayed, repeats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
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
