-- jq_retry.lua: move failed jobs back to waiting with a fresh set of attempts (job.retry(),
-- retry_failed()): failures, stalls, progress and last error are reset.
-- KEYS[1..19] (JobQueueKeys.script_keys()): jobs wait prio delayed active completed failed runs made
--   stalls progress results errors meta marker events limiter repeat metrics
-- ARGV[1] '' (unused here: times are the server's)  ARGV[2] events maxlen  ARGV[3] limit (for 'all')  ARGV[4..] job ids; none = all
-- failed jobs, oldest first, up to the limit. Ids that are not in `failed` are skipped.
-- Returns the ids retried.
-- Before the first write: a key this script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote).
for i, want in pairs({[1] = 'hash', [2] = 'list', [3] = 'zset', [7] = 'zset', [9] = 'hash', [10] = 'hash',
    [11] = 'hash', [13] = 'hash', [14] = 'hash', [15] = 'list', [16] = 'stream'}) do
  local got = redis.call('TYPE', KEYS[i])['ok']
  if got ~= 'none' and got ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want)
  end
end
local jobs, wait, prio, failed = KEYS[1], KEYS[2], KEYS[3], KEYS[7]
local made, stalls, progress, errors = KEYS[9], KEYS[10], KEYS[11], KEYS[13]
local meta, marker, events = KEYS[14], KEYS[15], KEYS[16]
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
local ids = {}
for i = 4, #ARGV do
  ids[#ids + 1] = ARGV[i]
end
if #ids == 0 then
  ids = redis.call('ZRANGE', failed, 0, tonumber(ARGV[3]) - 1)
end
local done = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', jobs, id)
  if raw and redis.call('ZREM', failed, id) == 1 then
    for _, key in ipairs({made, stalls, progress, errors}) do
      redis.call('HDEL', key, id)
    end
    local p = tonumber(options(raw).priority) or 0
    if p > 0 then
      redis.call('ZADD', prio, p * 4294967296 + incr('HINCRBY', meta, 'pseq', 1), id)
    else
      redis.call('LPUSH', wait, id)
    end
    redis.call('LPUSH', marker, '1')
    emit(events, 'MAXLEN', '~', ARGV[2], '*', 'event', 'retried', 'job', id)
    done[#done + 1] = id
  end
end
redis.call('LTRIM', marker, 0, 63)
return done
