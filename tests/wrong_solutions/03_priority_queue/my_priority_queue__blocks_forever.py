# expect: dequeue\(\) on an empty queue had not returned after 5 s: it should return None at once
# BZPOPMIN with its default timeout of 0: on an empty queue it waits for ever, and a draining worker never stops.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + self.r.incr(self.seq)})

    def dequeue(self):
        popped = self.r.bzpopmin(self.key)
        return json.loads(popped[1]) if popped else None
