-- enqueue.lua: add jobs whose ids the caller chose to the reliable queue's waiting list, each id
-- live at most once (a generated id is new by construction: those jobs go in with a plain LPUSH).
-- KEYS[1] waiting  KEYS[2] attempts
-- ARGV[1..2n] pairs of (job id, serialised job)
-- A job's `attempts` entry exists from its delivery (from its enqueue, here) until it is acked or
-- dead-lettered, so an id already waiting (enqueued here), in flight or waiting for a retry is
-- found there: the whole call is then refused and nothing is written. Returns {} when every job was added, or {id} of the first
-- duplicate (also a repeat within the call).
local seen = {}
for i = 1, #ARGV, 2 do
  if seen[ARGV[i]] or redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    return {ARGV[i]}
  end
  seen[ARGV[i]] = true
end
for i = 1, #ARGV, 2 do  -- the job first, its id marked live after: a waiting key of the wrong type
  redis.call('LPUSH', KEYS[1], ARGV[i + 1])  -- fails the call with nothing written, no id left live
  redis.call('HSET', KEYS[2], ARGV[i], 0)
end
return {}
