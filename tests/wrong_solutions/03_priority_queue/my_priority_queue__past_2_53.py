# expect: jobs share the score \d+: a double is exact only up to 2⁵³
# 53 bits left for the arrival number: priority * 2**53 + arrival is past 2**53, where doubles step by 2 and more.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority * 2**53 + self.r.incr(self.seq)})

    def dequeue(self):
        popped = self.r.zpopmin(self.key)
        return json.loads(popped[0][0]) if popped else None
