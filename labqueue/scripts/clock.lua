-- clock.lua: the server's clock, for the scripts that include it (`--- @include clock`): every time
-- that decides anything (lease deadlines, due times, rate windows) is Redis's TIME, never a caller's.
local function clock(arg)  -- arg '' (or none): the server's TIME; a number: a test's fake now
  local now = tonumber(arg)
  if now then
    return now
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function micros()  -- the server's TIME in microseconds (a number, exact below 2^53)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- delivery numbers never repeat: a fresh counter (a new queue, or after clear(), FLUSHDB or a restart
-- without persistence) starts at the server's time in microseconds, past every token handed out
-- before, so a late call from an older delivery can never match a new delivery of a reused id.
-- Lua reads a counter as a double: past 2^53 two INCRs can read the same number, so a counter there
-- (or at 1 or below: fresh, or negative, which '<n>:<id>' tokens cannot spell) is junk too.
local EXACT = 9007199254740992  -- 2^53: every integer below it is a double of its own
local function next_number(seq)
  local n = redis.pcall('INCR', seq)
  if type(n) ~= 'number' or n <= 1 or n >= EXACT then  -- fresh, or junk in the counter: restart from the time
    n = micros()
    redis.call('SET', seq, string.format('%.0f', n))
  end
  return string.format('%.0f', n)
end
