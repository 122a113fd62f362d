-- jq_stalled.lua: take back the jobs whose lease expired (their worker died or hung): each goes back
-- to the front of `wait` with a 'stalled' event, unless it already stalled max_stalled times: then
-- it is failed for good ("a poison pill must not loop forever").
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] max stalls allowed
-- Returns {requeued, failed, next_in}: next_in the seconds until the earliest lease still running
-- expires ('' if none), so the heartbeat can look again right when it does.
-- Before the first write: a key this script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote).
for i, want in pairs({[1] = 'hash', [2] = 'list', [5] = 'zset', [7] = 'zset', [8] = 'hash', [9] = 'hash',
    [10] = 'hash', [11] = 'hash', [12] = 'hash', [13] = 'hash', [15] = 'list', [16] = 'stream',
    [19] = 'hash'}) do
  local got = redis.call('TYPE', KEYS[i])['ok']
  if got ~= 'none' and got ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want)
  end
end
local jobs, wait, active, failed = KEYS[1], KEYS[2], KEYS[5], KEYS[7]
local runs, made, stalls, progress, results, errors = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local marker, events, metrics = KEYS[15], KEYS[16], KEYS[19]
local maxlen, max_stalled = ARGV[2], tonumber(ARGV[3])
local function options(raw)  -- the job's options; {} when its stored JSON is unreadable (never an error)
  local ok, record = pcall(cjson.decode, raw or '')
  local opts = ok and type(record) == 'table' and record.opts
  return type(opts) == 'table' and opts or {}
end
local function incr(cmd, key, field, by)  -- HINCRBY/HINCRBYFLOAT that cannot fail after a write:
  local got = redis.pcall(cmd, key, field, by)  -- a field holding junk (or at the limit) restarts from `by`
  if type(got) == 'table' and got.err then
    redis.call('HSET', key, field, by)
    return by
  end
  return got
end
local function emit(...)  -- XADD to the events stream; an event that cannot be written never aborts a move
  redis.pcall('XADD', ...)
end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local requeued, dead = 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, '-inf', '(' .. now)) do
  redis.call('ZREM', active, id)
  local raw = redis.call('HGET', jobs, id)
  if raw then
    local n = incr('HINCRBY', stalls, id, 1)
    if n > max_stalled then
      local reason = 'job stalled ' .. n .. ' times (more than ' .. max_stalled .. ' allowed): its worker keeps dying'
      redis.call('HSET', errors, id, reason)
      redis.call('ZADD', failed, now, id)
      incr('HINCRBY', metrics, 'total_failed', 1)
      emit(events, 'MAXLEN', '~', maxlen, '*', 'event', 'failed', 'job', id, 'error', reason,
        'final', 1)
      local keep = options(raw).remove_on_fail
      if keep == true then
        keep = 0
      end
      if type(keep) == 'number' then
        local extra = redis.call('ZCARD', failed) - keep
        if extra > 0 then
          for _, old in ipairs(redis.call('ZRANGE', failed, 0, extra - 1)) do
            for _, key in ipairs({jobs, runs, made, stalls, progress, results, errors}) do
              redis.call('HDEL', key, old)
            end
          end
          redis.call('ZREMRANGEBYRANK', failed, 0, extra - 1)
        end
      end
      dead = dead + 1
    else
      redis.call('RPUSH', wait, id)
      redis.call('LPUSH', marker, '1')
      emit(events, 'MAXLEN', '~', maxlen, '*', 'event', 'stalled', 'job', id, 'stalls', n)
      requeued = requeued + 1
    end
  end
end
redis.call('LTRIM', marker, 0, 63)
local nxt = redis.call('ZRANGE', active, 0, 0, 'WITHSCORES')
return {requeued, dead, nxt[2] and tostring(tonumber(nxt[2]) - now) or ''}
