# expect: at base \+ 2.75 s the jobs due at \+0.5 … \+2.5 s \(5 of them\) should move to the ready list; promote_due returned 0
# Atomic, but promote_due ignores the `now` it is given and sends this process's time.time(): the time travel (and a
# scheduler asked about another instant) sees nothing due; in production the time that decides is Redis's TIME.
import json
import time

PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
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
        return self.promote(keys=[self.delayed, self.ready], args=[time.time()])
