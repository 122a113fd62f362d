-- priority_push.lua: add jobs to the priority sorted set, FIFO among equal priorities.
-- KEYS[1] priority zset  KEYS[2] seq counter
-- ARGV[1..2n] pairs of (priority, serialised job)
-- Score = priority * 2^32 + a per-queue sequence number modulo 2^32 (priority_score.lua, the JobQueue's and
-- BullMQ's scheme), so a lower priority number comes first and equal priorities come out in arrival order
-- (exact in a double: priority 0..2^21-1, checked by the caller; FIFO inverted once at each wrap of the
-- sequence). A counter holding junk restarts at 1 (next_arrival).
-- Returns the number of jobs added.
--- @include priority_score
for i = 1, #ARGV, 2 do
  local seq = next_arrival(KEYS[2])
  redis.call('ZADD', KEYS[1], string.format('%.0f', priority_score(tonumber(ARGV[i]), seq)), ARGV[i + 1])
end
return #ARGV / 2
