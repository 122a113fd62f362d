# expect: came out as job-02, job-01, job-00: a queue gives the oldest first
# LPUSH then LPOP: a stack (the newest job first), and no blocking either.
import json


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name

    def enqueue(self, job):
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        raw = self.r.lpop(self.key)
        return None if raw is None else json.loads(raw)

    def size(self):
        return self.r.llen(self.key)
