# expect: ack\(pair-01\) left pair-01 in the processing list: ack must remove the very entry it is given \(LREM processing 1 entry\), and LREM finds it only byte for byte as the move stored it \(a job changed and re-serialised
# The chapter's bug: dequeue adds started_at to the job it moved and returns it re-serialised, so LREM never matches.
import json
import time


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
        raw = self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")
        if raw is None:
            return None
        job = json.loads(raw)
        job["started_at"] = time.time()
        return json.dumps(job)

    def ack(self, entry):
        """The job `entry` (as dequeue returned it) is done: remove exactly that entry from processing."""
        self.r.lrem(self.processing, 1, entry)
