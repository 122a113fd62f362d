# expect: both have priority \d+ and #\d+ arrived first, but #\d+ came out first: equal scores are ordered by member bytes
# The chapter's score: the priority alone. Jobs of one priority then come out in the order of their bytes.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): priority})

    def dequeue(self):
        popped = self.r.zpopmin(self.key)
        return json.loads(popped[0][0]) if popped else None
