-- cron_restore.lua: put a dead-lettered cron schedule back among the schedules (CronQueue.replay_dead),
-- its definition as it was buried, its last run forgotten (the next occurrence after now fires).
-- KEYS[1] cron hash  KEYS[2] cron:last hash  KEYS[3] dlq hash  KEYS[4] dlq:meta hash
-- ARGV[1] DLQ id ('cron:<name>') as stored  ARGV[2] its definition as read (and checked)  ARGV[3] schedule name
-- Returns 1 when restored; 0 when the dead letter changed or went away meanwhile; -1 when a schedule
-- of that name exists (scheduled again since): in both cases nothing is changed.
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return 0
end
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
