# expect: dequeue\(timeout=0\.3\) on an empty queue had not returned after 5 s: pass its timeout to BRPOP
# BRPOP with timeout 0 (the chapter's worker loop) whatever the caller asked: on an empty queue it waits forever.
import json


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name

    def enqueue(self, job):
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        reply = self.r.brpop([self.key], timeout=0)
        return None if reply is None else json.loads(reply[1])

    def size(self):
        return self.r.llen(self.key)
