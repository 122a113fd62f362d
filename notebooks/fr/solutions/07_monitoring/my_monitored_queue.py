import json


class MyMonitoredQueue:
    """Une file (liste) `name` avec le hash de métriques du chapitre, `name:metrics` (total_enqueued, total_dequeued)."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.metrics_key = name + ":metrics"

    def enqueue(self, job):
        pipe = self.r.pipeline(transaction=True)          # le job et son comptage, ensemble
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
        """{"total_enqueued": ..., "total_dequeued": ..., "current_size": ...} : les compteurs du hash
        et la taille lue dans la liste elle-même, dans un seul MULTI pour qu'ils décrivent le même instant."""
        pipe = self.r.pipeline(transaction=True)          # MULTI ... EXEC : un seul instant
        pipe.hgetall(self.metrics_key)
        pipe.llen(self.key)                               # lue dans l'état, jamais comptée
        counters, size = pipe.execute()
        counters = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in counters.items()}
        return {"total_enqueued": counters.get("total_enqueued", 0),
                "total_dequeued": counters.get("total_dequeued", 0),
                "current_size": size}
