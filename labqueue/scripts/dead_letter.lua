-- dead_letter.lua: write one dead letter and its meta, for the scripts that include it
-- (`--- @include dead_letter`: bury.lua, nack.lua). A dead letter already stored under the same id (a
-- job id reused by a producer, a counter that restarted) is never replaced: the new one goes under
-- '<n>:<id>', the first of n, n + 1, ... that is free (nack.lua's n: the delivery number of its token,
-- so the key is the token; bury.lua's: the server's TIME in microseconds). Returns the key written.
local function dead_letter(dlq, meta, id, n, raw, reason, failed_at, attempts)
  local key = id
  while redis.call('HSETNX', dlq, key, raw) == 0 do
    key = string.format('%.0f', n) .. ':' .. id
    n = n + 1
  end
  redis.call('HSET', meta, key, '{"reason":' .. reason .. ',"failed_at":' .. failed_at
    .. ',"attempts":' .. attempts .. '}')
  return key
end
