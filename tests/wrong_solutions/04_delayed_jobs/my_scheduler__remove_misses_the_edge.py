# expect: promote_due\(\d+\) pushed the job due at exactly \d+ but left it in the delayed set, so the next pass pushes it again
# Reads the due jobs with an inclusive bound but removes them with an exclusive one: a job due exactly now is
# pushed and stays scheduled, so the next pass pushes it again.
import json

PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, job in ipairs(due) do
    redis.call('LPUSH', KEYS[2], job)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
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
