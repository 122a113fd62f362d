# expect: dequeue returned the job's JSON text .* not the job: decode it \(json\.loads\)
# ZPOPMIN's member returned as it is: the worker gets a string, not the job.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + self.r.incr(self.seq)})

    def dequeue(self):
        popped = self.r.zpopmin(self.key)
        return popped[0][0] if popped else None
