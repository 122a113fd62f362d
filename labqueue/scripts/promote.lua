-- promote.lua: move due delayed jobs to the waiting list, each exactly once even with several
-- schedulers racing (the ZREM and the LPUSH happen in one script).
-- KEYS[1] delayed zset  KEYS[2] waiting list
-- ARGV[1] now (unix s)  ARGV[2] most jobs to move
-- Returns {moved, next run-at as a string or ''}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('LPUSH', KEYS[2], raw)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or ''}
