-- priority_push.lua: add jobs to the priority sorted set, FIFO among equal priorities.
-- KEYS[1] priority zset  KEYS[2] seq counter
-- ARGV[1..2n] pairs of (priority, serialised job)
-- Score = priority * 1e11 + a per-queue sequence number, so a lower priority number comes first
-- and equal priorities come out in arrival order (exact in a double below 2^53: priority <= 10000).
-- Returns the number of jobs added.
for i = 1, #ARGV, 2 do
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(ARGV[i]) * 1e11 + seq), ARGV[i + 1])
end
return #ARGV / 2
