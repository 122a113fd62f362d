# expect: with two promoters racing, job race-\d+-\d reached the ready list 2 times: both read it as due before either removed it
# The chapter's scheduler without its guard: read what is due, then for each job LPUSH and ZREM. Two promoters both push it.
import json


class MyScheduler:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.delayed = name + ":delayed"
        self.ready = name + ":ready"

    def schedule(self, job, run_at):
        self.r.zadd(self.delayed, {json.dumps(job): run_at})

    def promote_due(self, now):
        due = self.r.zrangebyscore(self.delayed, "-inf", now)
        for job in due:
            self.r.lpush(self.ready, job)
            self.r.zrem(self.delayed, job)
        return len(due)
