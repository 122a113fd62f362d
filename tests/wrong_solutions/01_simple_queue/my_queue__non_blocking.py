# expect: returned after 0\.\d\d s: it should block up to its timeout in Redis \(BRPOP
# RPOP ignores the timeout: a worker on an empty queue spins instead of waiting in Redis.
import json


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name

    def enqueue(self, job):
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        raw = self.r.rpop(self.key)
        return None if raw is None else json.loads(raw)

    def size(self):
        return self.r.llen(self.key)
