-- schedule.lua: add jobs to the delayed sorted set, each due `delay` seconds from now by the
-- server's clock (TIME), and wake a sleeping scheduler when one of them is due earlier than
-- everything already scheduled.
-- KEYS[1] delayed zset  KEYS[2] wake list
-- ARGV[1..2n] pairs of (delay in seconds, serialised job)
-- Returns 1 when a scheduler was woken, else 0.
-- The wake token is pushed before any job is scheduled: a wake key of the wrong type fails the call
-- with nothing written (after the ZADDs, the caller saw an error for jobs that would run, and a retry
-- scheduled them twice).
--- @include clock
local now = clock('')
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2]) or math.huge
local wake = 0
for i = 1, #ARGV, 2 do
  if now + tonumber(ARGV[i]) < earliest then
    wake = 1
  end
end
if wake == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, 0)
end
for i = 1, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[i]), ARGV[i + 1])
end
return wake
