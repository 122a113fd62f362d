-- lease.lua: lease a job that BLMOVE / BRPOPLPUSH just moved into the processing list.
-- KEYS[1] processing  KEYS[2] inflight  KEYS[3] attempts  KEYS[4] leases  KEYS[5] orphans
-- KEYS[6] dlq  KEYS[7] dlq:meta  KEYS[8] seq
-- ARGV[1] the serialised job as moved (its exact bytes)  ARGV[2] lease seconds
-- ARGV[3] '' (the server's clock, TIME) or a fake now for tests
-- Returns {1, attempts, token} when leased (token '<n>:<job id>', this delivery's own); {0} when
-- the job is no longer in processing, or every copy there is already leased (recovery re-queued it
-- first and another worker took it); {-1} when the entry is not a
-- job (it is moved to the dead-letter queue).
--- @include clock
--- @include entry
local raw = ARGV[1]
local now = clock(ARGV[3])
-- a copy of the entry not already leased: a worker that paused between its BLMOVE and this script
-- finds its copy gone (recovery re-queued the orphan) and must not lease another worker's copy
local copies = #redis.call('LPOS', KEYS[1], raw, 'COUNT', 0)
if copies == 0 then
  return {0}
end
for _, leased in ipairs(redis.call('HVALS', KEYS[2])) do
  if leased == raw then
    copies = copies - 1
    if copies == 0 then
      return {0}
    end
  end
end
local id = id_of(raw)
if not id then
  bury_invalid(raw, KEYS[8], KEYS[6], KEYS[7], KEYS[1], now)
  return {-1}
end
local token = next_number(KEYS[8]) .. ':' .. id
redis.call('HSET', KEYS[2], token, raw)
redis.call('HDEL', KEYS[5], id)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), token)
local attempts = redis.pcall('HINCRBY', KEYS[3], id, 1)
if type(attempts) == 'table' and attempts.err then  -- a count holding junk restarts (never an error after a write)
  redis.call('HSET', KEYS[3], id, 1)
  attempts = 1
end
return {1, attempts, token}
