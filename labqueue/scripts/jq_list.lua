-- jq_list.lua: the jobs in one state, in the order they will run (waiting, delayed, active) or
-- newest first (completed, failed), with what changed while they ran.
-- KEYS[1..12] (JobQueueKeys.for_script('list'), only the keys it uses): jobs wait prio delayed active
--   completed failed made stalls progress results errors
-- ARGV[1] state: 'waiting', 'delayed', 'active', 'completed' or 'failed'  ARGV[2] start  ARGV[3] stop
-- (inclusive, 0-based; stop -1 = to the end)
-- Returns {id, json, score, made, stalls, progress, result, error, ...}: score is the run-at time
-- (delayed), lease deadline (active), finish time (completed, failed) or '' (waiting).
local jobs, wait, prio, delayed, active, completed, failed, made, stalls, progress, results, errors =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11],
  KEYS[12]
--- @include jq_lib
local state, start, stop = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ids, scores = {}, {}
local function take(list, withscores)
  if withscores then
    for i = 1, #list, 2 do
      ids[#ids + 1] = list[i]
      scores[#ids] = list[i + 1]
    end
  else
    for _, id in ipairs(list) do
      ids[#ids + 1] = id
      scores[#ids] = ''
    end
  end
end
if state == 'waiting' then
  local w = redis.call('LRANGE', wait, 0, -1)
  for i = #w, 1, -1 do
    ids[#ids + 1] = w[i]
    scores[#ids] = ''
  end
  take(redis.call('ZRANGE', prio, 0, -1), false)
elseif state == 'delayed' then
  take(redis.call('ZRANGE', delayed, 0, -1, 'WITHSCORES'), true)
elseif state == 'active' then
  take(redis.call('ZRANGE', active, 0, -1, 'WITHSCORES'), true)
elseif state == 'completed' then
  take(redis.call('ZREVRANGE', completed, start, stop, 'WITHSCORES'), true)
  start, stop = 0, -1
elseif state == 'failed' then
  take(redis.call('ZREVRANGE', failed, start, stop, 'WITHSCORES'), true)
  start, stop = 0, -1
else
  return redis.error_reply('unknown state ' .. state)
end
if stop < 0 or stop >= #ids then
  stop = #ids - 1
end
local out = {}
for i = start + 1, stop + 1 do
  local id = ids[i]
  local raw = redis.call('HGET', jobs, id)
  if raw then
    for _, v in ipairs({id, raw, scores[i], redis.call('HGET', made, id) or '0',
        redis.call('HGET', stalls, id) or '0', redis.call('HGET', progress, id) or '0',
        redis.call('HGET', results, id) or '', redis.call('HGET', errors, id) or ''}) do
      out[#out + 1] = v
    end
  end
end
return out
