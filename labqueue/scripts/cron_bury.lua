-- cron_bury.lua: move a cron schedule that cannot run (bad JSON, a date that never comes) out of
-- the schedules into the dead-letter queue, with its reason. The DLQ is written before the schedule
-- is removed, so a wrong-typed DLQ key loses nothing.
-- KEYS[1] cron hash  KEYS[2] cron:last hash  KEYS[3] dlq hash  KEYS[4] dlq:meta hash
-- ARGV[1] schedule name as stored  ARGV[2] its definition as read  ARGV[3] DLQ id  ARGV[4] reason (a JSON
-- string); its failed_at is the server's clock, never a scheduler's.
-- Returns 1 when moved, 0 when the schedule changed or went away meanwhile (then left alone).
--- @include clock
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[3], '{"reason":' .. ARGV[4] .. ',"failed_at":' .. clock('') .. ',"attempts":0}')
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
