# expect: one promote_due over 2,500 due jobs lost 1,500 of them \(batch-\d+ among them\): they left the delayed set without reaching the ready list
# Reads at most 1000 due jobs (LIMIT) but removes every due job: past 1000, the jobs left the set unpushed.
import json

PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, job in ipairs(due) do
    redis.call('LPUSH', KEYS[2], job)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #due
"""


class MyScheduler:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.delayed = name + ":delayed"
        self.ready = name + ":ready"
        self.promote = self.r.register_script(PROMOTE)

    def schedule(self, job, run_at):
        self.r.zadd(self.delayed, {json.dumps(job): run_at})

    def promote_due(self, now):
        return self.promote(keys=[self.delayed, self.ready], args=[now])
