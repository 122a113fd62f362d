-- schedule.lua: add jobs to the delayed sorted set and wake a sleeping scheduler when one of them
-- is due earlier than everything already scheduled.
-- KEYS[1] delayed zset  KEYS[2] wake list
-- ARGV[1..2n] pairs of (run-at unix time, serialised job)
-- Returns 1 when a scheduler was woken, else 0.
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2]) or math.huge
local wake = 0
for i = 1, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
  if tonumber(ARGV[i]) < earliest then
    earliest = tonumber(ARGV[i])
    wake = 1
  end
end
if wake == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, 0)
end
return wake
