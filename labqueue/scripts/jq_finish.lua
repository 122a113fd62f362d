-- jq_finish.lua: end deliveries, one or a batch (a worker's finished jobs, sent with its next claim):
-- each completed (return value stored), failed (retried after the backoff while attempts remain,
-- else moved to `failed`) or dead (failed for good at once, whatever attempts remain); trims finished
-- jobs as the job's remove_on_complete / remove_on_fail options say; counts it in `metrics`; emits
-- the event on `events`. Junk in a stored record's options (jq_lib.lua) is read as the default: a junk
-- `attempts` as 1, its failure final with a reason naming the option; junk retention as keep.
-- KEYS[1..17] (JobQueueKeys.for_script('finish'), only the keys it uses): jobs wait prio delayed active
--   completed failed runs made stalls progress results errors marker events metrics meta
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen
-- ARGV[3] the deliveries, one JSON array (one argument: a batch of 50 costs the client one string to
-- send, not 400): [job id, delivery token, 'completed' / 'failed' / 'dead', return value (JSON) or
-- error message, retry delay (s) if this failure is retried (0 = at once), duration (s), histogram
-- bucket index of the duration, job name] each.
-- A retry that is delayed and due earlier than every other delayed job wakes an idle worker
-- (LPUSH marker), as a ready retry does, so it is not left waiting for the next poll.
-- Returns one digit a delivery, in one string (labqueue.scripts.Outcome): 0 when the job is no longer
-- this delivery's (stalled and taken back, or removed), 4 completed, 1 failed and retried, 2 failed for good.
local jobs, wait, prio, delayed, active, completed, failed, runs, made, stalls, progress, results, errors, marker,
  events, metrics, meta =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11],
  KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [meta] = 'hash', [delayed] = 'zset',
  [active] = 'zset',
  [completed] = 'zset', [failed] = 'zset', [runs] = 'hash', [made] = 'hash', [stalls] = 'hash',
  [progress] = 'hash', [results] = 'hash', [errors] = 'hash', [marker] = 'list', [events] = 'stream',
  [metrics] = 'hash'})
if bad then
  return bad
end
local ok, ends = pcall(cjson.decode, ARGV[3])
if not ok or type(ends) ~= 'table' or ARGV[3]:sub(1, 1) ~= '[' then  -- an object decodes to a table too
  return redis.error_reply('ERR jq_finish: the deliveries must be a JSON array')
end
for _, e in ipairs(ends) do
  if type(e) ~= 'table' or type(e[1]) ~= 'string' or type(e[2]) ~= 'number' or type(e[4]) ~= 'string'
      or type(e[5]) ~= 'number' or type(e[6]) ~= 'number' or type(e[7]) ~= 'number' or type(e[8]) ~= 'string' then
    return redis.error_reply('ERR jq_finish: each delivery is [id, token, outcome, text, retry, duration, bucket, name]')
  end
  if e[3] ~= 'completed' and e[3] ~= 'failed' and e[3] ~= 'dead' then
    return redis.error_reply('ERR jq_finish: outcome must be completed, failed or dead')
  end
end
local now = clock(ARGV[1])

local counts, sums, dropped = {}, {}, {}  -- metrics and jobs to forget: written once a batch
local function count(field, by, into)
  into = into or counts
  into[field] = (into[field] or 0) + by
end

local tokens, raws = {}, {}  -- every delivery's current token and record: two HMGETs a batch, not two HGETs a job
for i = 1, #ends, 1000 do
  local ids = {}
  for j = i, math.min(i + 999, #ends) do
    ids[#ids + 1] = ends[j][1]
  end
  for j, v in ipairs(redis.call('HMGET', runs, unpack(ids))) do
    tokens[i + j - 1] = v
  end
  for j, v in ipairs(redis.call('HMGET', jobs, unpack(ids))) do
    raws[i + j - 1] = v
  end
end

local stale = false  -- a trim of this batch dropped jobs: from then on each token and record is read again

local function finish(i, id, token, outcome, payload, retry_in, duration, bucket, name)
  local current, raw = tokens[i], raws[i]
  if stale then
    current, raw = redis.call('HGET', runs, id), redis.call('HGET', jobs, id)
  end
  if current ~= string.format('%d', token) or redis.call('ZREM', active, id) == 0 then
    return 0
  end
  local opts = options(raw)
  count('hist:' .. bucket .. ':' .. name, 1)
  count('hist_sum:' .. name, duration, sums)
  if outcome == 'completed' then
    count('total_succeeded', 1)
    count('total_duration_ms', duration * 1000, sums)
    emit('event', 'completed', 'job', id, 'result', payload, 'duration', duration)
    if opts.remove_on_complete == true then  -- forgotten at once: never written to `completed`
      dropped[#dropped + 1] = id
    else
      redis.call('HSET', results, id, payload)
      redis.call('ZADD', completed, now, id)
      trim(completed, id, opts.remove_on_complete)
      stale = stale or opts.remove_on_complete ~= nil
    end
    return 4
  end
  local attempts, junk = attempts_of(opts)  -- junk: a value add() refuses; read as 1, this failure is the last
  if junk ~= nil and outcome == 'failed' then
    payload = payload .. " (failed for good: its option 'attempts' is unusable: " .. shown(junk) .. ', read as 1)'
  end
  local n = incr('HINCRBY', made, id, 1)
  redis.call('HSET', errors, id, payload)
  count('total_failed', 1)
  local final = n >= attempts or outcome == 'dead'
  emit('event', 'failed', 'job', id, 'error', payload,
    'attempts_made', n, 'attempts', attempts, 'final', final and 1 or 0, 'duration', duration)
  if not final then
    local retry_at = now + retry_in
    if retry_at > now then
      local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
      redis.call('ZADD', delayed, retry_at, id)
      if not first[2] or retry_at < tonumber(first[2]) then
        wake(1)
      end
    else
      ready(id, priority_of(opts))  -- at the back of its line: its priority's, or wait
      wake(1)
    end
    return 1
  end
  redis.call('ZADD', failed, now, id)
  trim(failed, id, opts.remove_on_fail)
  stale = stale or opts.remove_on_fail ~= nil
  return 2
end

local codes = {}
for i, e in ipairs(ends) do
  codes[i] = finish(i, e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8])
end
for field, by in pairs(counts) do
  incr('HINCRBY', metrics, field, by)
end
for field, by in pairs(sums) do
  incr('HINCRBYFLOAT', metrics, field, by)
end
drop_all(dropped)
return table.concat(codes)
