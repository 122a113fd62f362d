# expect: one dequeue sent RPOP \+ LPUSH: the job leaves \S+ with one command and reaches \S+ with another, so a worker that dies between the two has taken it out of Redis and put it nowhere: the job is lost
# Two commands where one is needed: the job is in neither list between the RPOP and the LPUSH.
import json


class MyReliableQueue:
    """A job moves to a processing list when delivered, and leaves it only when acked."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.waiting = name                      # LPUSH at the head, take from the tail
        self.processing = name + ":processing"   # delivered, not yet acked

    def enqueue(self, job):
        """Add `job` (a dict) at the head of the waiting list."""
        self.r.lpush(self.waiting, json.dumps(job))

    def dequeue(self, timeout):
        """Move the oldest job from waiting to processing in one command, waiting up to `timeout` s
        (BLMOVE waiting processing RIGHT LEFT); return the entry exactly as Redis holds it, or None."""
        entry = self.r.rpop(self.waiting)
        if entry is not None:
            self.r.lpush(self.processing, entry)    # a crash before this line loses the job
        return entry

    def ack(self, entry):
        """The job `entry` (as dequeue returned it) is done: remove exactly that entry from processing."""
        self.r.lrem(self.processing, 1, entry)
