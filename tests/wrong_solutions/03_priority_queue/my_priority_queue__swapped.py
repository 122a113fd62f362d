# expect: \(priority \d+\) came out before job #\d+ \(priority \d+\): the lowest priority number goes first
# Priority and arrival number swapped in the score: arrival * 2**32 + priority is plain FIFO.
import json


class MyPriorityQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.seq = name + ":seq"

    def enqueue(self, job, priority):
        self.r.zadd(self.key, {json.dumps(job): self.r.incr(self.seq) * 2**32 + priority})

    def dequeue(self):
        popped = self.r.zpopmin(self.key)
        return json.loads(popped[0][0]) if popped else None
