-- jq_progress.lua: record the progress (0-100) of a job in hand and emit a 'progress' event.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] '' (unused here: times are the server's)  ARGV[2] events maxlen  ARGV[3] job id  ARGV[4] delivery token  ARGV[5] progress
-- Returns 1, or 0 when the job is no longer this delivery's (nothing written).
-- Before the first write: a key this script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote).
for i, want in pairs({[5] = 'zset', [8] = 'hash', [11] = 'hash', [16] = 'stream'}) do
  local got = redis.call('TYPE', KEYS[i])['ok']
  if got ~= 'none' and got ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want)
  end
end
local active, runs, progress, events = KEYS[5], KEYS[8], KEYS[11], KEYS[16]
local id = ARGV[3]
if redis.call('HGET', runs, id) ~= ARGV[4] or not redis.call('ZSCORE', active, id) then
  return 0
end
redis.call('HSET', progress, id, ARGV[5])
-- pcall: an event that cannot be written (a stream at its last id) does not fail the call after the HSET
redis.pcall('XADD', events, 'MAXLEN', '~', ARGV[2], '*', 'event', 'progress', 'job', id, 'progress', ARGV[5])
return 1
