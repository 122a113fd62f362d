-- read_hashes.lua: read several hashes in one atomic step (the dead-letter queue and its meta, or
-- the cron schedules and their last runs). The caller reads the reply undecoded (NEVER_DECODE), so
-- an entry that is not valid UTF-8 cannot break the read.
-- KEYS[1..n] hashes  ARGV none
-- Returns {HGETALL KEYS[1], HGETALL KEYS[2], ...} (each a flat field, value list).
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out
