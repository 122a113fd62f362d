# expect: two workers both got job .*: between your read and your removal another worker took the same job
# The chapter's dequeue: read the first member (ZRANGE 0 0), then ZREM it. Two workers read the same job.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + self.r.incr(self.seq)})

    def dequeue(self):
        first = self.r.zrange(self.key, 0, 0)
        if not first:
            return None
        self.r.zrem(self.key, first[0])
        return json.loads(first[0])
