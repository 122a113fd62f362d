# expect: with pair-00 and pair-01 in flight, ack\(pair-01\) removed pair-00, a job still being worked on
# ack pops whatever is at the tail of the processing list: another worker's job, not the one that finished.
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
        return self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")

    def ack(self, entry):
        """The job `entry` (as dequeue returned it) is done: remove exactly that entry from processing."""
        self.r.rpop(self.processing)
