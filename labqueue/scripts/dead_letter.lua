-- dead_letter.lua: write one dead letter and its meta, for the scripts that include it
-- (`--- @include dead_letter`: bury, nack, recover, cron_bury). A dead letter already stored under the
-- same id (a job id reused by a producer, a counter that restarted) is never replaced: the new one goes
-- under field(n), the first free of n, n + 1, ... (by default '<n>:<id>'; nack.lua's and recover.lua's n:
-- the delivery number of the token, so the key is the token; bury.lua's and cron_bury.lua's: the server's
-- TIME in microseconds). `more`: further meta fields (',"schedule":...'), or nil. Returns the key written.
local function dead_letter(dlq, meta, id, n, raw, reason, failed_at, attempts, more, field)
  local key = id
  while redis.call('HSETNX', dlq, key, raw) == 0 do
    local nth = string.format('%.0f', n)
    key = field and field(nth) or nth .. ':' .. id
    n = n + 1
  end
  redis.call('HSET', meta, key, '{"reason":' .. reason .. ',"failed_at":' .. failed_at
    .. ',"attempts":' .. attempts .. (more or '') .. '}')
  return key
end
