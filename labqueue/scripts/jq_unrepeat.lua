-- jq_unrepeat.lua: stop a repeatable job: forget its key (in `repeats` and its copy: jq_add.lua goes on
-- while either names it) and remove its pending occurrence (if it has not started yet), so no worker
-- schedules a next one.
-- KEYS[1..6] (JobQueueKeys.for_script('unrepeat'), only the keys it uses): jobs wait prio delayed repeats
--   repeat_copy
-- ARGV[1] repeat key
-- Returns 1 when the repeatable job existed (either hash named it), else 0.
local jobs, wait, prio, delayed, repeats, repeat_copy =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [delayed] = 'zset',
  [repeats] = 'hash', [repeat_copy] = 'hash'})
if bad then
  return bad
end
local id, copy = redis.call('HGET', repeats, ARGV[1]), redis.call('HGET', repeat_copy, ARGV[1])
if not id and not copy then
  return 0
end
redis.call('HDEL', repeats, ARGV[1])
redis.call('HDEL', repeat_copy, ARGV[1])
id = id or copy  -- the same in both, one of them missing if it was moved aside since (junk in it)
local pending = redis.call('ZREM', delayed, id) + redis.call('ZREM', prio, id) + redis.call('LREM', wait, 0, id)
if pending > 0 then
  redis.call('HDEL', jobs, id)
end
return 1
