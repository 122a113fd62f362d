-- jq_finish.lua: end one delivery: completed (return value stored), or failed (retried after the
-- backoff while attempts remain, else moved to `failed`); trims finished jobs as the job's
-- remove_on_complete / remove_on_fail options say; counts it in `metrics`; emits the event on `events`.
-- KEYS[1..15] (JobQueueKeys.for_script('finish'), only the keys it uses): jobs wait delayed active
--   completed failed runs made stalls progress results errors marker events metrics
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] job id  ARGV[4] delivery token
-- ARGV[5] 'completed' or 'failed'  ARGV[6] return value (JSON) or error message
-- ARGV[7] retry delay (s) if this failure is retried (0 = at once)  ARGV[8] duration (s)
-- ARGV[9] histogram bucket index of the duration  ARGV[10] job name
-- A retry that is delayed and due earlier than every other delayed job wakes an idle worker
-- (LPUSH marker), as a ready retry does, so it is not left waiting for the next poll.
-- Returns (labqueue.scripts.Outcome) 0 when the job is no longer this delivery's (stalled and taken
-- back, or removed), 4 completed, 1 failed and retried, 2 failed for good.
local jobs, wait, delayed, active, completed, failed, runs, made, stalls, progress, results, errors, marker,
  events, metrics =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11],
  KEYS[12], KEYS[13], KEYS[14], KEYS[15]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [delayed] = 'zset', [active] = 'zset',
  [completed] = 'zset', [failed] = 'zset', [runs] = 'hash', [made] = 'hash', [stalls] = 'hash',
  [progress] = 'hash', [results] = 'hash', [errors] = 'hash', [marker] = 'list', [events] = 'stream',
  [metrics] = 'hash'})
if bad then
  return bad
end
local now = clock(ARGV[1])
local id = ARGV[3]
if redis.call('HGET', runs, id) ~= ARGV[4] or not redis.call('ZSCORE', active, id) then
  return 0
end
if not (tonumber(ARGV[7]) and tonumber(ARGV[8]) and tonumber(ARGV[9])) then
  return redis.error_reply('ERR jq_finish: retry-at, duration and bucket must be numbers')
end
local opts = options(redis.call('HGET', jobs, id))
redis.call('ZREM', active, id)
local duration = tonumber(ARGV[8])
incr('HINCRBY', metrics, 'hist:' .. ARGV[9] .. ':' .. ARGV[10], 1)
incr('HINCRBYFLOAT', metrics, 'hist_sum:' .. ARGV[10], duration)
if ARGV[5] == 'completed' then
  redis.call('HSET', results, id, ARGV[6])
  redis.call('ZADD', completed, now, id)
  incr('HINCRBY', metrics, 'total_succeeded', 1)
  incr('HINCRBYFLOAT', metrics, 'total_duration_ms', duration * 1000)
  emit('event', 'completed', 'job', id,
    'result', ARGV[6], 'duration', ARGV[8])
  trim(completed, id, opts.remove_on_complete)
  return 4
end
local attempts = tonumber(opts.attempts) or 1
local n = incr('HINCRBY', made, id, 1)
redis.call('HSET', errors, id, ARGV[6])
incr('HINCRBY', metrics, 'total_failed', 1)
local final = n >= attempts
emit('event', 'failed', 'job', id, 'error', ARGV[6],
  'attempts_made', n, 'attempts', attempts, 'final', final and 1 or 0, 'duration', ARGV[8])
if not final then
  local retry_at = now + tonumber(ARGV[7])
  if retry_at > now then
    local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
    redis.call('ZADD', delayed, retry_at, id)
    if not first[2] or retry_at < tonumber(first[2]) then
      wake(1)
    end
  else
    redis.call('LPUSH', wait, id)
    wake(1)
  end
  return 1
end
redis.call('ZADD', failed, now, id)
trim(failed, id, opts.remove_on_fail)
return 2
