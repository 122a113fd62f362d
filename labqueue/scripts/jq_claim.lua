-- jq_claim.lua: the worker's fetch: promote due delayed jobs, then (unless the queue is paused or
-- the rate limit is reached) move up to N jobs to `active`, each with a lease and a delivery token.
-- KEYS[1..17] (JobQueueKeys.for_script('claim'), only the keys it uses): jobs wait prio delayed active
--   runs made meta marker limiter metrics failed errors events stalls progress results
-- ARGV[1] '' (the server's clock, TIME: every time here is the server's)  ARGV[2] events maxlen  ARGV[3] lease seconds  ARGV[4] N
-- ARGV[5] rate limit: max deliveries (0 = no limit)  ARGV[6] per this many seconds
-- Jobs without priority (`wait`, RPOP) come before prioritized ones (`prio`, ZPOPMIN), as in
-- BullMQ. The rate limit is a sliding log on the server clock (TIME): at most max deliveries in
-- any window of that many seconds, across all workers. An id popped that is already active, or popped
-- before by the same claim (queued twice: junk, an LPUSH by hand), is dropped: one delivery at a time.
-- Returns {n, next_due, limited_for, server_now, heads, json1, json2, ...}: next_due is the run-at of
-- the earliest delayed job ('' if none), limited_for the seconds until the limiter frees a slot ('0' when
-- not limited); heads a JSON array of [id, token, made] a job (token: this delivery's number, unique in the
-- queue, which finish, progress, release and the heartbeat must show; made: its failed attempts), one
-- string: a batch of 50 is 51 reply elements, not 200.
local jobs, wait, prio, delayed, active, runs, made, meta, marker, limiter, metrics, failed, errors, events, stalls,
  progress, results =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12],
  KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [delayed] = 'zset',
  [active] = 'zset', [runs] = 'hash', [made] = 'hash', [meta] = 'hash', [marker] = 'list',
  [limiter] = 'zset', [metrics] = 'hash', [failed] = 'zset', [errors] = 'hash', [events] = 'stream',
  [stalls] = 'hash', [progress] = 'hash', [results] = 'hash'})
if bad then
  return bad
end
local now = clock(ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', delayed, id)
  local raw = redis.call('HGET', jobs, id)
  if raw then
    ready(id, priority_of(options(raw)))
  end
end
local server_now = now
local deadline = now + tonumber(ARGV[3])
local result = {0, '', '0', string.format('%.6f', server_now)}
local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if #nxt > 0 then
  result[2] = nxt[2]
end
if redis.call('HGET', meta, 'paused') then
  redis.call('DEL', marker)
  return result
end
local n = tonumber(ARGV[4])
local rate_max, rate_window = tonumber(ARGV[5]), tonumber(ARGV[6])
if rate_max > 0 then
  redis.call('ZREMRANGEBYSCORE', limiter, '-inf', server_now - rate_window)
  local free = rate_max - redis.call('ZCARD', limiter)
  if free <= 0 then
    local oldest = redis.call('ZRANGE', limiter, 0, 0, 'WITHSCORES')
    result[3] = string.format('%.6f', math.max(tonumber(oldest[2]) + rate_window - server_now, 0.001))
    return result
  end
  n = math.min(n, free)
end
-- An id that is not UTF-8 (written by hand) cannot be delivered: a client that decodes replies could not read
-- the batch, one that does not would read another id. It fails for good here, never run, its reason stored,
-- as every job failed for good is: counted in total_failed, its 'failed' event sent, its remove_on_fail
-- applied (jq_lib's trim: the keys stalls, progress and results are there for it). Before, it was neither
-- counted nor trimmed: the metrics showed one failure fewer than `failed` and the events held.
local function utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    if c < 0x80 then
      i = i + 1
    else
      local len, cp, low
      if c >= 0xC2 and c <= 0xDF then len, cp, low = 2, c - 0xC0, 0x80
      elseif c >= 0xE0 and c <= 0xEF then len, cp, low = 3, c - 0xE0, 0x800
      elseif c >= 0xF0 and c <= 0xF4 then len, cp, low = 4, c - 0xF0, 0x10000
      else return false end
      for j = i + 1, i + len - 1 do
        local b = s:byte(j)
        if not b or b < 0x80 or b > 0xBF then
          return false
        end
        cp = cp * 64 + b - 0x80
      end
      if cp < low or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
        return false
      end
      i = i + len
    end
  end
  return true
end
local function refuse(id, raw)
  local reason = 'job id is not valid UTF-8 (written by hand?): it cannot be delivered'
  redis.call('ZADD', failed, server_now, id)
  redis.call('HSET', errors, id, reason)
  incr('HINCRBY', metrics, 'total_failed', 1)
  emit('event', 'failed', 'job', id, 'error', reason, 'attempts_made', 0, 'final', 1)
  trim(failed, id, options(raw).remove_on_fail)
end
-- Delivery tokens never repeat for the queue, whatever became of its jobs: a job removed once finished
-- (remove_on_complete, clean, obliterate) and added again under its id gets a token no late call of its
-- old deliveries shows (a finish resent after a reconnect would else end the new job, never run). meta's
-- `token` counter, one HINCRBY a round of up to 1,000 jobs, not one a job. A fresh counter (a new queue,
-- obliterate(), FLUSHDB, a restart without persistence) or junk in it starts from the server's time in
-- microseconds, past every token handed out before (clock.lua's next_number, for a batch).
local function tokens(k)  -- reserves k tokens: they are base + 1 .. base + k; returns base
  local last = redis.pcall('HINCRBY', meta, 'token', k)
  if type(last) ~= 'number' or last <= k or last >= EXACT then  -- fresh, negative, or past 2^53 (doubles round)
    last = micros() + k
    redis.call('HSET', meta, 'token', string.format('%.0f', last))
  end
  return last - k
end
local count, heads, seen = 0, {}, {}  -- seen: the ids popped by this claim
while n > 0 do  -- a few jobs a command (RPOP/ZPOPMIN, HMGET, ZADD), not five commands a job; at most
  local some = math.min(n, 1000)  -- 1,000 a round: unpack() of more (2 a lease) fails past Lua's limit, after the pop
  local ids = redis.call('RPOP', wait, some)
  if not ids then
    ids = {}
    local top = redis.call('ZPOPMIN', prio, some)
    for i = 1, #top, 2 do
      ids[#ids + 1] = top[i]
    end
    if #ids == 0 then
      break
    end
  end
  local raws, mades, took = redis.call('HMGET', jobs, unpack(ids)), redis.call('HMGET', made, unpack(ids)), {}
  local held_now = redis.call('ZMSCORE', active, unpack(ids))  -- one delivery at a time: see `seen`
  for i, id in ipairs(ids) do
    if held_now[i] or seen[id] then
      -- already active, or popped before in this claim: an id queued twice (junk, an LPUSH by hand). A second
      -- delivery would replace the first's token (its finish ignored, the job run twice): this entry is dropped
    elseif raws[i] and id:find('[\128-\255]') and not utf8(id) then
      refuse(id, raws[i])
    elseif raws[i] then  -- an id without a record is dropped, as it always was
      took[#took + 1] = i
    end
    seen[id] = true
  end
  if #took > 0 then
    local base, leases, held = tokens(#took), {}, {}
    for k, i in ipairs(took) do
      local id, token = ids[i], string.format('%.0f', base + k)
      leases[2 * k - 1], leases[2 * k] = deadline, id
      held[2 * k - 1], held[2 * k] = id, token
      if rate_max > 0 then
        redis.call('ZADD', limiter, server_now, id .. ':' .. token)
      end
      count = count + 1
      heads[count] = string.format('[%s,%s,%d]', cjson.encode(id), token, tonumber(mades[i] or '0') or 0)
      result[count + 5] = raws[i]
      n = n - 1
    end
    redis.call('ZADD', active, unpack(leases))
    redis.call('HSET', runs, unpack(held))
  end
end
result[1], result[5] = count, '[' .. table.concat(heads, ',') .. ']'
if count > 0 then
  incr('HINCRBY', metrics, 'total_dequeued', count)
end
if redis.call('LLEN', wait) == 0 and redis.call('ZCARD', prio) == 0 then
  redis.call('DEL', marker)
end
return result
