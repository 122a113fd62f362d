import json


class MyQueue:
    """A FIFO queue in the Redis list `name`: LPUSH at the head, BRPOP at the tail."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name              # the list that holds the jobs, as JSON text

    def enqueue(self, job):
        """Add `job` (a dict) at the head of the list (LPUSH of its JSON)."""
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        """The oldest job as a dict, waiting up to `timeout` seconds (BRPOP); None if none came."""
        reply = self.r.brpop([self.key], timeout=timeout)   # (key, entry) or None
        return None if reply is None else json.loads(reply[1])

    def size(self):
        """How many jobs wait (LLEN)."""
        return self.r.llen(self.key)
