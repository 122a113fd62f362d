-- promote.lua: move due delayed jobs to the waiting list, each exactly once even with several
-- schedulers racing (the ZREM and the LPUSH happen in one script).
-- KEYS[1] delayed zset  KEYS[2] waiting list
-- ARGV[1] '' (the server's clock, TIME) or an explicit time (notebook 04's time travel, tests)
-- ARGV[2] most jobs to move
-- Returns {moved, next_in}: next_in the seconds from that now until the next job is due, or ''.
--- @include clock
local now = clock(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])  -- as sent: a Lua number over 1e14 would print as 1e+14
for _, raw in ipairs(due) do  -- the waiting list first: a push that fails (a key of the wrong type)
  redis.call('LPUSH', KEYS[2], raw)  -- leaves the job scheduled instead of removed and lost
  redis.call('ZREM', KEYS[1], raw)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] and tostring(tonumber(nxt[2]) - now) or ''}
