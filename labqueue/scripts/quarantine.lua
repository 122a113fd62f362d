-- quarantine.lua: move aside a queue key that holds the wrong Redis type (a list replaced by a
-- string...) and record it in the dead-letter queue, so that workers can go on.
-- KEYS[1] the key  KEYS[2] where to move it  KEYS[3] dlq  KEYS[4] dlq:meta
-- ARGV[1] expected type ('list', 'hash', 'zset', 'stream' or 'string')  ARGV[2] '' (failed_at: the
-- server's TIME)  ARGV[3] DLQ entry id
-- Returns the type found when the key was moved, '' when there was nothing to do (the key is missing
-- or already of the expected type, e.g. another worker moved it first), or 0 when KEYS[2] or the DLQ
-- entry already exists (a counter that restarted): nothing is overwritten, the caller tries the next.
--- @include clock
local found = redis.call('TYPE', KEYS[1])['ok']
if found == 'none' or found == ARGV[1] then
  return ''
end
local taken = redis.call('EXISTS', KEYS[2]) == 1  -- (the DLQ entry is free when the DLQ itself moves)
  or (KEYS[1] ~= KEYS[3] and redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1)
if taken then
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[3], ARGV[3], cjson.encode({quarantined_key = KEYS[1], type = found,
  expected = ARGV[1], moved_to = KEYS[2]}))
redis.call('HSET', KEYS[4], ARGV[3], cjson.encode({
  reason = 'key ' .. KEYS[1] .. ' held a Redis ' .. found .. ', expected a ' .. ARGV[1]
    .. ': moved aside to ' .. KEYS[2],
  failed_at = clock(ARGV[2]), attempts = 0, invalid = true}))
return found
