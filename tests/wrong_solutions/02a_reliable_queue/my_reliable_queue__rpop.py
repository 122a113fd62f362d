# expect: job job-00 was lost: it left Redis at dequeue and the worker died before finishing it
# The simple queue's BRPOP: nothing remembers the job while it is being worked on.
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
        reply = self.r.brpop([self.waiting], timeout=timeout)
        return None if reply is None else reply[1]

    def ack(self, entry):
        """The job `entry` (as dequeue returned it) is done: remove exactly that entry from processing."""
        self.r.lrem(self.processing, 1, entry)
