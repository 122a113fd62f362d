# expect: \(priority \d+\) came out before job #\d+ \(priority \d+\): the lowest priority number goes first
# ZPOPMAX: the least urgent job first.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + self.r.incr(self.seq)})

    def dequeue(self):
        popped = self.r.zpopmax(self.key)
        return json.loads(popped[0][0]) if popped else None
