-- extend.lua: the heartbeat: push the leases of deliveries still in hand forward, by the server's
-- clock. A token whose lease is gone (recovery took the job back, or it was acked) is not revived.
-- Shared by both queues. KEYS[1] the leases sorted set (the reliable queue's `leases`, member =
-- delivery token; JobQueue's `active`, member = job id)  KEYS[2] (JobQueue only) the `runs` hash
-- ARGV[1] '' (the server's clock, TIME) or a fake now for tests  ARGV[2] lease seconds
-- ARGV[3..n] delivery tokens; with KEYS[2], pairs (job id, token): the lease is extended only
-- while `runs` still holds that token for the job (this delivery's, not a later one's).
-- Returns the number of leases extended.
--- @include clock
local now = clock(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local extended = 0
local runs = KEYS[2]
for i = 3, #ARGV, runs and 2 or 1 do
  if (not runs or redis.call('HGET', runs, ARGV[i]) == ARGV[i + 1]) and redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])  -- counted even when the deadline is unchanged
    extended = extended + 1
  end
end
return extended
