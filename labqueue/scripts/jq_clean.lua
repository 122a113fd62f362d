-- jq_clean.lua: remove completed or failed jobs that finished more than `grace` seconds ago
-- (queue.clean(grace, state, limit)), oldest first.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] 'completed' or 'failed'  ARGV[4] grace (s)
-- ARGV[5] limit (0 = no limit)
-- Returns the ids removed.
-- Before the first write: a key this script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote).
for i, want in pairs({[1] = 'hash', [6] = 'zset', [7] = 'zset', [8] = 'hash', [9] = 'hash', [10] = 'hash',
    [11] = 'hash', [12] = 'hash', [13] = 'hash', [16] = 'stream'}) do
  local got = redis.call('TYPE', KEYS[i])['ok']
  if got ~= 'none' and got ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want)
  end
end
local jobs, completed, failed = KEYS[1], KEYS[6], KEYS[7]
local runs, made, stalls, progress, results, errors = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local events = KEYS[16]
local set = completed
if ARGV[3] == 'failed' then
  set = failed
end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local limit = tonumber(ARGV[5])
local ids
if limit > 0 then
  ids = redis.call('ZRANGEBYSCORE', set, '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, limit)
else
  ids = redis.call('ZRANGEBYSCORE', set, '-inf', now - tonumber(ARGV[4]))
end
for _, id in ipairs(ids) do
  redis.call('ZREM', set, id)
  for _, key in ipairs({jobs, runs, made, stalls, progress, results, errors}) do
    redis.call('HDEL', key, id)
  end
end
if #ids > 0 then
  -- pcall: the jobs are gone; an event that cannot be written must not report a failure
  redis.pcall('XADD', events, 'MAXLEN', '~', ARGV[2], '*', 'event', 'cleaned', 'state', ARGV[3], 'count', #ids)
end
return ids
