# expect: reached it \d\.\d s later: block in Redis \(BRPOP\), which returns as soon as a job arrives
# Sleeps the whole timeout, then polls once: blocks, but a job that arrives meanwhile waits for nothing.
import json
import time


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name

    def enqueue(self, job):
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        raw = self.r.rpop(self.key)
        if raw is None:
            time.sleep(timeout)
            raw = self.r.rpop(self.key)
        return None if raw is None else json.loads(raw)

    def size(self):
        return self.r.llen(self.key)
