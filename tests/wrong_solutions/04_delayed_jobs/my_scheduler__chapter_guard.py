# expect: one promote_due sent ZRANGEBYSCORE \+ ZREM \+ LPUSH: separate commands, so another scheduler, or a crash, can come between them
# The chapter's scheduler with its `if removed:` guard: never twice, but a crash between ZREM and LPUSH loses the job.
import json


class MyScheduler:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.delayed = name + ":delayed"
        self.ready = name + ":ready"

    def schedule(self, job, run_at):
        self.r.zadd(self.delayed, {json.dumps(job): run_at})

    def promote_due(self, now):
        moved = 0
        for job in self.r.zrangebyscore(self.delayed, "-inf", now):
            if self.r.zrem(self.delayed, job):
                self.r.lpush(self.ready, job)
                moved += 1
        return moved
