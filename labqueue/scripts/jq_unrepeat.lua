-- jq_unrepeat.lua: stop a repeatable job: forget its key and remove its pending occurrence (if it
-- has not started yet), so no worker schedules a next one.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] repeat key
-- Returns 1 when the repeatable job existed, else 0.
-- Before the first write: a key this script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote).
for i, want in pairs({[1] = 'hash', [2] = 'list', [3] = 'zset', [4] = 'zset', [18] = 'hash'}) do
  local got = redis.call('TYPE', KEYS[i])['ok']
  if got ~= 'none' and got ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want)
  end
end
local jobs, wait, prio, delayed, repeats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[18]
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
