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
        pipe = self.r.pipeline(transaction=True)          # MULTI ... EXEC: one instant
        pipe.hgetall(self.metrics_key)
        pipe.llen(self.key)                               # read from the state, never counted
        counters, size = pipe.execute()
        counters = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in counters.items()}
        return {"total_enqueued": counters.get("total_enqueued", 0),
                "total_dequeued": counters.get("total_dequeued", 0),
                "current_size": size}
