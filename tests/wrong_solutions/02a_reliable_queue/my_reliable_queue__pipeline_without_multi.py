# expect: one dequeue sent RPOP \+ LPUSH: separate steps, so a worker that dies between them, or another worker whose commands run between them, can leave the job in neither list \(lost\) or in both \(run twice\)
# A pipeline without a transaction only batches RPOP and LPUSH: Redis still runs them as two steps.
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
        entry = self.r.lindex(self.waiting, -1)
        if entry is None:
            return None
        pipe = self.r.pipeline(transaction=False)   # sent together, but not as one step
        pipe.rpop(self.waiting)
        pipe.lpush(self.processing, entry)
        pipe.execute()
        return entry

    def ack(self, entry):
        """The job `entry` (as dequeue returned it) is done: remove exactly that entry from processing."""
        self.r.lrem(self.processing, 1, entry)
