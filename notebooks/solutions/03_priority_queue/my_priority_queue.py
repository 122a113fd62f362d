import json


class MyPriorityQueue:
    """The most urgent job first (lowest priority number), and FIFO among equal priorities."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name              # the sorted set: member = the job's JSON, score = its place in line
        self.seq = name + ":seq"     # the arrival counter, shared by every producer (INCR)

    def enqueue(self, job, priority):
        """Add `job` (a dict) with `priority` (1 = most urgent, up to 10)."""
        arrival = self.r.incr(self.seq)                      # 1, 2, 3, ... whoever enqueues
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + arrival})

    def dequeue(self):
        """The most urgent job as a dict, or None when the queue is empty."""
        popped = self.r.zpopmin(self.key)                    # [(member, score)] or []
        return json.loads(popped[0][0]) if popped else None
