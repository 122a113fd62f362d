-- jq_clean.lua: remove completed or failed jobs that finished more than `grace` seconds ago
-- (queue.clean(grace, state, limit)), oldest first.
-- KEYS[1..10] (JobQueueKeys.for_script('clean'), only the keys it uses): jobs completed failed runs made
--   stalls progress results errors events
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] 'completed' or 'failed'  ARGV[4] grace (s)
-- ARGV[5] limit (0 = no limit)
-- Returns the ids removed.
local jobs, completed, failed, runs, made, stalls, progress, results, errors, events =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [completed] = 'zset', [failed] = 'zset', [runs] = 'hash',
  [made] = 'hash', [stalls] = 'hash', [progress] = 'hash', [results] = 'hash', [errors] = 'hash',
  [events] = 'stream'})
if bad then
  return bad
end
local set = completed
if ARGV[3] == 'failed' then
  set = failed
end
local now = clock(ARGV[1])
local limit = tonumber(ARGV[5])
local ids
if limit > 0 then
  ids = redis.call('ZRANGEBYSCORE', set, '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, limit)
else
  ids = redis.call('ZRANGEBYSCORE', set, '-inf', now - tonumber(ARGV[4]))
end
for _, id in ipairs(ids) do
  redis.call('ZREM', set, id)
  drop(id)
end
if #ids > 0 then  -- the jobs are gone: an event that cannot be written must not report a failure
  emit('event', 'cleaned', 'state', ARGV[3], 'count', #ids)
end
return ids
