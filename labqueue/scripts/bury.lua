-- bury.lua: put one entry (a job, or one that is no job, byte for byte) in the dead-letter queue,
-- stamped with the server's clock (a worker's clock may be off by hours: dead_letters() sorts by it).
-- KEYS[1] dlq  KEYS[2] dlq:meta
-- ARGV[1] id  ARGV[2] the entry  ARGV[3] reason (a JSON string)  ARGV[4] attempts (an integer)
--- @include clock
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], '{"reason":' .. ARGV[3] .. ',"failed_at":' .. clock('')
  .. ',"attempts":' .. ARGV[4] .. '}')
return 1
