-- entry.lua: what an entry of a waiting list is, for lease.lua and claim.lua (`--- @include entry`,
-- after clock): a job, known by its id, or no job at all, dead-lettered as it is. The full check of a
-- job (type, data, max_attempts) is Job.from_json's, in Python: a job it refuses is nacked 'dead'.
local function id_of(raw)  -- the job's id; nil when the entry is not JSON with a non-empty string id
  local id = string.match(raw, '^{"id":"([^"\\]+)",')  -- labqueue's own JSON: no decoding needed
  if id then
    return id
  end
  local ok, job = pcall(cjson.decode, raw)
  if ok and type(job) == 'table' and type(job.id) == 'string' and job.id ~= '' then
    return job.id
  end
end

-- An entry that is no job goes to the dead-letter queue under 'invalid:<n>'. DLQ first, LREM last:
-- if a write fails (a key of the wrong type), the entry stays in processing and recovery brings it
-- back, instead of vanishing.
local function bury_invalid(raw, seq, dlq, dlq_meta, processing, now)
  local key = 'invalid:' .. next_number(seq)
  redis.call('HSET', dlq, key, raw)
  redis.call('HSET', dlq_meta, key, '{"reason":"entry is not a JSON job with a string id","failed_at":'
    .. now .. ',"attempts":0,"invalid":true}')
  redis.call('LREM', processing, 1, raw)
end
