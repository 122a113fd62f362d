# expect: came out as job-02, job-01, job-00: a queue gives the oldest first
# A stack, not a queue: LPUSH then BLPOP takes the newest job first.
import json


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name

    def enqueue(self, job):
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        reply = self.r.blpop([self.key], timeout=timeout)
        return None if reply is None else json.loads(reply[1])

    def size(self):
        return self.r.llen(self.key)
