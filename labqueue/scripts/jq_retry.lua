-- jq_retry.lua: move failed jobs back to waiting with a fresh set of attempts (job.retry(),
-- retry_failed()): failures, stalls, progress and last error are reset.
-- KEYS[1..11] (JobQueueKeys.for_script('retry'), only the keys it uses): jobs wait prio failed made stalls
--   progress errors meta marker events
-- ARGV[1] '' (unused here: times are the server's)  ARGV[2] events maxlen  ARGV[3] limit (for 'all')  ARGV[4..] job ids; none = all
-- failed jobs, oldest first, up to the limit. Ids that are not in `failed` are skipped.
-- Returns the ids retried.
local jobs, wait, prio, failed, made, stalls, progress, errors, meta, marker, events =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
--- @include jq_lib
local bad = wrong_type({[jobs] = 'hash', [wait] = 'list', [prio] = 'zset', [failed] = 'zset',
  [made] = 'hash', [stalls] = 'hash', [progress] = 'hash', [errors] = 'hash', [meta] = 'hash',
  [marker] = 'list', [events] = 'stream'})
if bad then
  return bad
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
    ready(id, priority_of(options(raw)))
    wake(1)
    emit('event', 'retried', 'job', id)
    done[#done + 1] = id
  end
end
return done
