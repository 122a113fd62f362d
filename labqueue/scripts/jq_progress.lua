-- jq_progress.lua: record the progress (0-100) of a job in hand and emit a 'progress' event.
-- KEYS[1..4] (JobQueueKeys.for_script('progress'), only the keys it uses): active runs progress events
-- ARGV[1] '' (unused here: times are the server's)  ARGV[2] events maxlen  ARGV[3] job id  ARGV[4] delivery token  ARGV[5] progress
-- Returns 1, or 0 when the job is no longer this delivery's (nothing written).
local active, runs, progress, events =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4]
--- @include jq_lib
local bad = wrong_type({[active] = 'zset', [runs] = 'hash', [progress] = 'hash', [events] = 'stream'})
if bad then
  return bad
end
local id = ARGV[3]
if redis.call('HGET', runs, id) ~= ARGV[4] or not redis.call('ZSCORE', active, id) then
  return 0
end
redis.call('HSET', progress, id, ARGV[5])
emit('event', 'progress', 'job', id, 'progress', ARGV[5])  -- an event that cannot be written fails nothing
return 1
