# expect: promote_due\(\d+\) left the job due at exactly \d+ in the delayed set: a job is due when its score is ≤ now
# `(now` in ZRANGEBYSCORE: only the jobs due strictly before now move; one due exactly now waits for a later pass.
import json

PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
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
