-- replay.lua: send dead-lettered jobs back to their queue, attempts reset.
-- KEYS[1] dlq  KEYS[2] dlq:meta  KEYS[3] attempts  KEYS[4] target (waiting list or priority zset)
-- KEYS[5] seq counter (zset target only)
-- ARGV[1] 'list', 'zset' or 'reliable' (a list whose `attempts` hash also says which ids are live:
-- a dead letter whose id is live again stays in the dead-letter queue)
-- ARGV[2..n] job ids to replay; none means every entry.
-- A list target gets the job at its tail end (LPUSH: back of the line); a zset target gets the
-- job's own priority (default 5) scored as priority_push.lua does (priority_score.lua; a counter holding
-- junk restarts at 1). Entries that
-- are not valid jobs stay in the dead-letter queue, and so does a cron schedule's dead letter
-- ('cron:<name>', its reason 'cron schedule ...': cron_bury.lua), checked here, atomically, whatever
-- the caller found before: a schedule buried meanwhile is never pushed as a job. So does a zset
-- target's job whose priority is present but no finite number (NaN would make its score 'nan', which
-- ZADD refuses; Job.from_json refuses the job anyway). The job is written to its queue before its
-- dead letter is deleted (and before a reliable queue marks its id live): a write that fails (a
-- queue key of the wrong type) leaves the dead letter where it was. Returns the number of jobs replayed.
--- @include priority_score
local function schedule_letter(id)
  if string.sub(id, 1, 5) ~= 'cron:' then
    return false
  end
  local ok, meta = pcall(cjson.decode, redis.call('HGET', KEYS[2], id) or '')
  return ok and type(meta) == 'table' and type(meta.reason) == 'string'
    and string.sub(meta.reason, 1, 14) == 'cron schedule '
end

local function score_of(job)  -- a zset target's score; nil when its priority is no finite number
  local priority = job.priority
  if priority == nil or priority == cjson.null then
    priority = 5
  elseif type(priority) ~= 'number' or priority ~= priority or priority == math.huge or priority == -math.huge then
    return nil
  end
  return string.format('%.0f', priority_score(priority, next_arrival(KEYS[5])))
end

local ids = {}
for i = 2, #ARGV do
  ids[#ids + 1] = ARGV[i]
end
if #ids == 0 then
  ids = redis.call('HKEYS', KEYS[1])
end
local replayed = 0
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local ok, job = pcall(cjson.decode, raw)
    local free = ok and type(job) == 'table' and type(job.id) == 'string' and not schedule_letter(id)
    if free and ARGV[1] == 'reliable' then
      free = redis.call('HEXISTS', KEYS[3], job.id) == 0
    end
    local score = free and ARGV[1] == 'zset' and score_of(job)
    if free and ARGV[1] == 'zset' and not score then
      free = false
    end
    if free then
      if score then
        redis.call('ZADD', KEYS[4], score, raw)
      else
        redis.call('LPUSH', KEYS[4], raw)
      end
      if ARGV[1] == 'reliable' then
        redis.call('HSET', KEYS[3], job.id, 0)
      else
        redis.call('HDEL', KEYS[3], job.id)
      end
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      replayed = replayed + 1
    end
  end
end
return replayed
