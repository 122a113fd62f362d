# expect: recover\(now\) right after the crash moved 1 job: job-00's lease has not expired yet
# Re-queues everything in processing, live workers' jobs included: they would run twice.
import json
import time


class MyLeasedQueue:
    """A reliable queue whose deliveries carry a lease: a deadline kept in the sorted set `leases`."""

    lease_seconds = 0.3

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.waiting = name
        self.processing = name + ":processing"
        self.leases = name + ":leases"           # member = the entry, score = its deadline (unix s)

    def enqueue(self, job):
        self.r.lpush(self.waiting, json.dumps(job))

    def dequeue(self, timeout):
        """Move the oldest job to processing and give it a lease until now + lease_seconds."""
        entry = self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")
        if entry is not None:
            self.r.zadd(self.leases, {entry: time.time() + self.lease_seconds})
        return entry

    def ack(self, entry):
        """Done: remove the entry from processing, and its lease."""
        pipe = self.r.pipeline(transaction=True)
        pipe.lrem(self.processing, 1, entry)
        pipe.zrem(self.leases, entry)
        pipe.execute()

    def recover(self, now):
        """Put every job whose lease deadline is <= `now` back at the tail of the waiting list (next to
        be taken), removing it from processing and from the leases; return how many."""
        moved = 0
        while (entry := self.r.lmove(self.processing, self.waiting, "RIGHT", "RIGHT")) is not None:
            self.r.zrem(self.leases, entry)
            moved += 1
        return moved
