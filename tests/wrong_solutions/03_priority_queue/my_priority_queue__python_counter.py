# expect: both have priority \d+ and #\d+ arrived first, but #\d+ came out first
# An arrival counter in Python: each producer counts on its own, so two producers' jobs tie.
import itertools
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.arrivals = itertools.count(1)

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + next(self.arrivals)})

    def dequeue(self):
        popped = self.r.zpopmin(self.key)
        return json.loads(popped[0][0]) if popped else None
