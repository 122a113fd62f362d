-- delete_dead.lua: drop one dead letter and its meta (an operator's decision: not replayed, gone).
-- KEYS[1] dlq  KEYS[2] dlq:meta  ARGV[1] id
-- Returns 1 when the dead letter was there, 0 when not (a meta without its entry is removed too).
-- HEXISTS first: a wrong-typed meta hash fails before anything is deleted.
redis.call('HEXISTS', KEYS[2], ARGV[1])
local found = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return found
