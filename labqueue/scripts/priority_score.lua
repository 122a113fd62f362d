-- priority_score.lua: the one priority score (`--- @include priority_score`), for the PriorityQueue
-- (priority_push.lua, replay.lua) and the JobQueue's `prio` (jq_lib.lua's ready()); the Python side is
-- labqueue/priority_score.py, with the same numbers. As BullMQ: score = priority * 2^32 + sequence, the
-- sequence the queue's arrival counter modulo 2^32; lower first: by priority, then, among equals, by arrival.
-- Redis's scores are doubles, exact up to 2^53: priorities 0..2^21-1 with sequences below 2^32 end at
-- 2^53 - 1, all exact (no ties); 2^21 is refused before any script runs (2^53 + sequence would round to ties).
-- The modulo keeps every score inside its priority's band [priority * 2^32, (priority + 1) * 2^32) whatever
-- the counter: unwrapped, the 2^32-th arrival bled into the next priority's scores and, at the top
-- priorities, past 2^53. The price (BullMQ's too): once every 2^32 arrivals FIFO is inverted once, the jobs
-- numbered from 0 again coming before those still waiting with the last numbers below 2^32.
local PRIORITY_LEVEL = 4294967296  -- 2^32: the scores of one priority
local function priority_score(priority, seq)
  return priority * PRIORITY_LEVEL + seq % PRIORITY_LEVEL  -- exact: 2^32 divides a double without rounding
end

-- The next arrival number of a counter (INCR `key`). A counter holding junk of the right type (no integer,
-- or at INCR's limit) restarts at 1 (jq_lib's pseq does the same): a failed INCR would refuse every job
-- until someone fixed the key. A key of another type is an error, never overwritten.
local function next_arrival(key)
  local n = redis.pcall('INCR', key)
  if type(n) == 'table' and n.err then
    if redis.call('TYPE', key)['ok'] ~= 'string' then
      return redis.call('INCR', key)  -- raises the WRONGTYPE error, as before
    end
    redis.call('SET', key, 1)
    return 1
  end
  return n
end
