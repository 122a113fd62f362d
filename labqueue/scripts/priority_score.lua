-- priority_score.lua: the one priority score (`--- @include priority_score`), for the PriorityQueue
-- (priority_push.lua, replay.lua) and the JobQueue's `prio` (jq_lib.lua's ready()); the Python side is
-- labqueue/priority_score.py, with the same numbers. As BullMQ: score = priority * 2^32 + sequence (the
-- queue's arrival counter), lower first: by priority, then, among equals, by arrival. Redis's scores are
-- doubles, exact up to 2^53: priorities 0..2^21-1 with sequences below 2^32 end at 2^53 - 1, all exact
-- (no ties); 2^21 is refused before any script runs (2^53 + sequence would round to ties).
local PRIORITY_LEVEL = 4294967296  -- 2^32: the scores of one priority
local function priority_score(priority, seq)
  return priority * PRIORITY_LEVEL + seq
end
