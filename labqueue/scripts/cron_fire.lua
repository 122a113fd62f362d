-- cron_fire.lua: enqueue one occurrence of a cron schedule as a delayed job, exactly once even
-- when several schedulers compute the same occurrence (compare-and-set on the last run-at).
-- KEYS[1] cron:last hash  KEYS[2] delayed zset  KEYS[3] wake list
-- ARGV[1] schedule name  ARGV[2] occurrence run-at (unix s)  ARGV[3] serialised job
-- Returns 1 when this call enqueued the occurrence, 0 when it was already enqueued.
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if not last or last ~= last or last == math.huge or last == -math.huge then
  last = -1  -- junk (not a number, nan, inf) is overwritten by this occurrence, never compared
end
if tonumber(ARGV[2]) <= last then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])  -- scheduled before recorded: a delayed key of the wrong
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])  -- type fails the call with no occurrence marked fired
redis.call('LPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, 0)
return 1
