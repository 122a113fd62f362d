# expect: another MyQueue on the same name says size\(\) = 0 while the list holds 2 jobs: read the size from Redis \(LLEN\)
# The size kept in a Python attribute: another process (or instance) does not see it.
import json


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name
        self.count = 0

    def enqueue(self, job):
        self.r.lpush(self.key, json.dumps(job))
        self.count += 1

    def dequeue(self, timeout):
        reply = self.r.brpop([self.key], timeout=timeout)
        if reply is None:
            return None
        self.count -= 1
        return json.loads(reply[1])

    def size(self):
        return self.count
