# expect: get_metrics sent HGETALL \+ LLEN: separate reads, so under load the counters and the size come from different instants
# Right values, read in two round trips: a snapshot of two different instants.
import json


class MyMonitoredQueue:
    """A list queue `name` with the chapter's metrics hash `name:metrics` (total_enqueued, total_dequeued)."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.metrics_key = name + ":metrics"

    def enqueue(self, job):
        pipe = self.r.pipeline(transaction=True)          # the job and its count, together
        pipe.lpush(self.key, json.dumps(job))
        pipe.hincrby(self.metrics_key, "total_enqueued", 1)
        pipe.execute()

    def dequeue(self, timeout=1):
        reply = self.r.brpop([self.key], timeout=timeout)
        if reply is None:
            return None
        self.r.hincrby(self.metrics_key, "total_dequeued", 1)
        return json.loads(reply[1])

    def get_metrics(self):
        """{"total_enqueued": ..., "total_dequeued": ..., "current_size": ...}: the counters from the
        hash and the size read from the list itself, in one MULTI so they belong to the same instant."""
        m = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in self.r.hgetall(self.metrics_key).items()}
        return {"total_enqueued": m.get("total_enqueued", 0), "total_dequeued": m.get("total_dequeued", 0),
                "current_size": self.r.llen(self.key)}
