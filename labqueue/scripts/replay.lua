-- replay.lua: move dead-lettered jobs back to the tail of a waiting list, attempts reset.
-- KEYS[1] dlq  KEYS[2] dlq:meta  KEYS[3] attempts  KEYS[4] target waiting list
-- ARGV[1..n] job ids to replay; none means every entry. Entries that are not valid jobs stay.
-- Returns the number of jobs replayed.
local ids = ARGV
if #ids == 0 then
  ids = redis.call('HKEYS', KEYS[1])
end
local replayed = 0
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local ok, job = pcall(cjson.decode, raw)
    if ok and type(job) == 'table' and type(job.id) == 'string' then
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], job.id)
      redis.call('LPUSH', KEYS[4], raw)
      replayed = replayed + 1
    end
  end
end
return replayed
