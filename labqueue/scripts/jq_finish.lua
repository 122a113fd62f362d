-- jq_finish.lua: end one delivery: completed (return value stored), or failed (retried after the
-- backoff while attempts remain, else moved to `failed`); trims finished jobs as the job's
-- remove_on_complete / remove_on_fail options say; counts it in `metrics`; emits the event on `events`.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] job id  ARGV[4] delivery token
-- ARGV[5] 'completed' or 'failed'  ARGV[6] return value (JSON) or error message
-- ARGV[7] retry delay (s) if this failure is retried (0 = at once)  ARGV[8] duration (s)
-- ARGV[9] histogram bucket index of the duration  ARGV[10] job name
-- A retry that is delayed and due earlier than every other delayed job wakes an idle worker
-- (LPUSH marker), as a ready retry does, so it is not left waiting for the next poll.
-- Returns 0 when the job is no longer this delivery's (stalled and taken back, or removed),
-- 1 completed, 2 failed and retried, 3 failed for good.
-- Before the first write: a key this script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote).
for i, want in pairs({[1] = 'hash', [2] = 'list', [4] = 'zset', [5] = 'zset', [6] = 'zset', [7] = 'zset',
    [8] = 'hash', [9] = 'hash', [10] = 'hash', [11] = 'hash', [12] = 'hash', [13] = 'hash',
    [15] = 'list', [16] = 'stream', [19] = 'hash'}) do
  local got = redis.call('TYPE', KEYS[i])['ok']
  if got ~= 'none' and got ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want)
  end
end
local jobs, wait, prio, delayed, active = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local completed, failed, runs, made, stalls = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local progress, results, errors, meta, marker = KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local events, metrics = KEYS[16], KEYS[19]
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local maxlen, id = ARGV[2], ARGV[3]
if redis.call('HGET', runs, id) ~= ARGV[4] or not redis.call('ZSCORE', active, id) then
  return 0
end
if not (tonumber(ARGV[7]) and tonumber(ARGV[8]) and tonumber(ARGV[9])) then
  return redis.error_reply('ERR jq_finish: retry-at, duration and bucket must be numbers')
end
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
local opts = options(redis.call('HGET', jobs, id))
redis.call('ZREM', active, id)

local function drop(victim)
  for _, key in ipairs({jobs, runs, made, stalls, progress, results, errors}) do
    redis.call('HDEL', key, victim)
  end
end

-- keep: true = remove at once, false/nil = keep all, N = keep the newest N
local function trim(set, keep)
  if keep == true then
    keep = 0
  elseif type(keep) ~= 'number' then
    return
  end
  local extra = redis.call('ZCARD', set) - keep
  if extra > 0 then
    for _, old in ipairs(redis.call('ZRANGE', set, 0, extra - 1)) do
      drop(old)
    end
    redis.call('ZREMRANGEBYRANK', set, 0, extra - 1)
  end
end

local duration = tonumber(ARGV[8])
incr('HINCRBY', metrics, 'hist:' .. ARGV[9] .. ':' .. ARGV[10], 1)
incr('HINCRBYFLOAT', metrics, 'hist_sum:' .. ARGV[10], duration)
if ARGV[5] == 'completed' then
  redis.call('HSET', results, id, ARGV[6])
  redis.call('ZADD', completed, now, id)
  incr('HINCRBY', metrics, 'total_succeeded', 1)
  incr('HINCRBYFLOAT', metrics, 'total_duration_ms', duration * 1000)
  emit(events, 'MAXLEN', '~', maxlen, '*', 'event', 'completed', 'job', id,
    'result', ARGV[6], 'duration', ARGV[8])
  trim(completed, opts.remove_on_complete)
  return 1
end
local attempts = tonumber(opts.attempts) or 1
local n = incr('HINCRBY', made, id, 1)
redis.call('HSET', errors, id, ARGV[6])
incr('HINCRBY', metrics, 'total_failed', 1)
local final = n >= attempts
emit(events, 'MAXLEN', '~', maxlen, '*', 'event', 'failed', 'job', id, 'error', ARGV[6],
  'attempts_made', n, 'attempts', attempts, 'final', final and 1 or 0, 'duration', ARGV[8])
if not final then
  local retry_at = now + tonumber(ARGV[7])
  if retry_at > now then
    local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
    redis.call('ZADD', delayed, retry_at, id)
    if not first[2] or retry_at < tonumber(first[2]) then
      redis.call('LPUSH', marker, '1')
      redis.call('LTRIM', marker, 0, 63)
    end
  else
    redis.call('LPUSH', wait, id)
    redis.call('LPUSH', marker, '1')
    redis.call('LTRIM', marker, 0, 63)
  end
  return 2
end
redis.call('ZADD', failed, now, id)
trim(failed, opts.remove_on_fail)
return 3
