-- jq_lib.lua: what every jq_*.lua script shares, inlined where a script says `--- @include jq_lib`
-- (labqueue.scripts.source resolves it when the file is read: the script Redis runs is one file).
-- A script receives only the keys it uses and names them before this line (`local jobs, wait = KEYS[1],
-- KEYS[2]`; the Python side sends JobQueueKeys.for_script(name), read from that line). The helpers
-- below use those names: ready() needs wait, prio, meta; wake() marker; emit() events (and ARGV[2],
-- its maxlen); drop() and trim() jobs, runs, made, stalls, progress, results, errors.
--- @include clock
--- @include priority_score

-- Before the first write: a key the script touches that holds another Redis type is refused
-- whole (a script that fails midway keeps what it already wrote). `want`: key -> Redis type.
local function wrong_type(want)
  for key, kind in pairs(want) do
    local got = redis.call('TYPE', key)['ok']
    if got ~= 'none' and got ~= kind then
      return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. got .. ', not a ' .. kind)
    end
  end
end

local function options(raw)  -- the job's options; {} when its stored JSON is unreadable (never an error)
  local ok, record = pcall(cjson.decode, raw or '')
  local opts = ok and type(record) == 'table' and record.opts
  return type(opts) == 'table' and opts or {}
end

-- A stored record's options are read as add() writes them (jobspec.normalise), but a record written by hand
-- or by an older version may hold anything there: -Infinity, NaN (cjson reads both), 1e300, 2.5, "3", a list.
-- Every option a script reads goes through one of these: a value add() would refuse is read as the option's
-- default (priority none, attempts 1, retention keep), never passed to a command that fails after the script
-- has written part of its work. jq_finish names a junk `attempts` in the failure it makes final.
local MAX_PRIORITY = 2097151  -- 2^21 - 1: labqueue.priority_score.MAX_PRIORITY (exact scores)
local function whole(v, low, high)  -- an integer number from low to high (NaN and infinities are not)
  return type(v) == 'number' and v == math.floor(v) and v >= low and v <= high
end

local function priority_of(opts)  -- 1..2^21-1, else 0 (none: the job waits in `wait`)
  return whole(opts.priority, 1, MAX_PRIORITY) and opts.priority or 0
end

local function attempts_of(opts)  -- the attempts a job has (1..2^53-1; 1 when left out) and, when its value
  local v = opts.attempts  -- is junk, that value (the failure made final by it says so)
  if v == nil or v == cjson.null then
    return 1
  elseif whole(v, 1, EXACT - 1) then
    return v
  end
  return 1, v
end

local function shown(v)  -- a junk option's value as the JSON it came from, for a reason that names it
  if type(v) == 'number' and not (v > -math.huge and v < math.huge) then
    return v ~= v and 'NaN' or (v > 0 and 'Infinity' or '-Infinity')
  end
  local ok, text = pcall(cjson.encode, v)
  return ok and text:sub(1, 40) or type(v)
end

local function incr(cmd, key, field, by)  -- HINCRBY/HINCRBYFLOAT that cannot fail after a write:
  local got = redis.pcall(cmd, key, field, by)  -- a field holding junk (or at the limit) restarts from `by`
  if type(got) == 'table' and got.err then
    redis.call('HSET', key, field, by)
    return by
  end
  return got
end

local function emit(...)  -- XADD to the events stream (ARGV[2] = its maxlen); never aborts a move
  redis.pcall('XADD', events, 'MAXLEN', '~', ARGV[2], '*', ...)
end

local function wake(n)  -- wake up to n idle workers (BRPOP on the marker list, at most 64 tokens)
  for _ = 1, math.min(n, 64) do
    redis.call('LPUSH', marker, '1')
  end
  redis.call('LTRIM', marker, 0, 63)
end

-- A job ready to run: in `wait`, or in `prio` at score priority * 2^32 + sequence (pseq modulo 2^32: lower
-- first; priority_score.lua: priorities 1..2^21-1, exact, inside the priority's band; a pseq holding junk
-- restarts at 1, incr()).
-- `first` (a job handed back unrun, jq_release, or stalled, jq_stalled): where it stood, ahead of every job
-- waiting at its level: the end of `wait` jq_claim pops from, or 1 below its level's first job in `prio`
-- (with none waiting there, the sequence last given: below every later one). Released jobs stack up there,
-- one per job still waiting, inside their level's band [priority * 2^32, (priority + 1) * 2^32): scores do
-- not creep on many releases, and never reach another level's. A band with no room left below its first job
-- (a first job of sequence 0, just after a wrap) puts the job at the band's floor, tied with that one
-- (member order between them): nothing leaves its band. (Before, released jobs stacked below the band, in the
-- room above the level before's sequence: room a wrapped sequence takes.)
local function ready(id, priority, first)
  if not (priority > 0) then  -- NaN too (a record written by hand): its score NaN * 2^32 fails ZADD, with the job
    -- already out of the set it came from, in no state at all; like 0, it waits without a priority
    redis.call(first and 'RPUSH' or 'LPUSH', wait, id)
    return
  end
  if not first then
    redis.call('ZADD', prio, priority_score(priority, incr('HINCRBY', meta, 'pseq', 1)), id)
    return
  end
  local level = priority_score(priority, 0)
  local head = redis.call('ZRANGEBYSCORE', prio, string.format('%.0f', level),
    string.format('(%.0f', level + PRIORITY_LEVEL), 'WITHSCORES', 'LIMIT', 0, 1)
  local score
  if head[2] then
    score = math.max(level, tonumber(head[2]) - 1)
  else
    local last = tonumber(redis.call('HGET', meta, 'pseq')) or 0  -- no finite integer (junk, none): 0
    score = priority_score(priority, (last == math.floor(last) and math.abs(last) < math.huge) and last or 0)
  end
  redis.call('ZADD', prio, string.format('%.0f', score), id)
end

local function drop_all(ids)  -- forget finished jobs: their records and everything that changed while they ran
  for i = 1, #ids, 1000 do
    local some = {unpack(ids, i, math.min(i + 999, #ids))}
    for _, key in ipairs({jobs, runs, made, stalls, progress, results, errors}) do
      redis.call('HDEL', key, unpack(some))
    end
  end
end

local function drop(id)
  drop_all({id})
end

-- Retention, once job `id` entered the finished `set`: keep true = remove this job at once (BullMQ's
-- removeOnComplete: true; the others keep theirs), false/nil = keep it, N = keep the newest N of the set.
-- Anything else (junk: -Infinity, NaN, -1, 2.5, "3"...) keeps it too: a count that is no integer >= 0 made
-- ZRANGE / ZREMRANGEBYRANK fail after the job had finished (the rest of a batch never finished), and a
-- negative one removed every finished job of the set, this one too.
local function trim(set, id, keep)
  if keep == true then
    redis.call('ZREM', set, id)
    drop(id)
    return
  elseif not whole(keep, 0, EXACT - 1) then
    return
  end
  local extra = redis.call('ZCARD', set) - keep
  if extra > 0 then
    for _, old in ipairs(redis.call('ZRANGE', set, 0, extra - 1)) do
      drop(old)
    end
    redis.call('ZREMRANGEBYRANK', set, 0, extra - 1)
  end
end
