-- cron_bury.lua: move a cron schedule that cannot run (bad JSON, a date that never comes) out of
-- the schedules into the dead-letter queue, with its reason. The DLQ is written before the schedule
-- is removed, so a wrong-typed DLQ key loses nothing.
-- A dead letter of a schedule of the same name already there (buried before, never replayed) stays:
-- this one goes under 'cron:<n>:<name>', the first free n from the server's TIME in microseconds
-- (dead_letter.lua, as bury.lua). Its meta names the schedule ("schedule"), so restoring never parses the id.
-- KEYS[1] cron hash  KEYS[2] cron:last hash  KEYS[3] dlq hash  KEYS[4] dlq:meta hash
-- ARGV[1] schedule name as stored  ARGV[2] its definition as read  ARGV[3] DLQ id ('cron:<name>')
-- ARGV[4] reason (a JSON string)  ARGV[5] the schedule name as a JSON string; failed_at is the
-- server's clock, never a scheduler's.
-- Returns the DLQ id written when moved, 0 when the schedule changed or went away meanwhile (then left alone).
--- @include clock
--- @include dead_letter
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
local key = dead_letter(KEYS[3], KEYS[4], ARGV[3], micros(), ARGV[2], ARGV[4], clock(''), 0, ',"schedule":' .. ARGV[5],
  function(n) return 'cron:' .. n .. ':' .. ARGV[1] end)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return key
