-- leases.lua: read a leases sorted set as seconds left, by the server's clock (read-only). A script
-- rather than a pipeline with TIME: it runs on the node that holds the key (Redis Cluster too).
-- KEYS[1] leases (member -> deadline)
-- ARGV[1] '' (the server's clock, TIME) or a fake now for tests  ARGV[2] stop index (-1 = all)
-- Returns {member1, seconds_left1, member2, ...}, earliest deadline first.
--- @include clock
local now = clock(ARGV[1])
local out = {}
local all = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]), 'WITHSCORES')
for i = 1, #all, 2 do
  out[#out + 1] = all[i]
  out[#out + 1] = tostring(tonumber(all[i + 1]) - now)
end
return out
