# expect: the list holds .* which is not JSON: LPUSH json\.dumps\(job\)
# The job stored as Python's repr (str(job)) and read back with ast.literal_eval: no other language, and no
# JSON tool, can read the queue.
import ast


class MyQueue:
    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name

    def enqueue(self, job):
        self.r.lpush(self.key, str(job))

    def dequeue(self, timeout):
        reply = self.r.brpop([self.key], timeout=timeout)
        return None if reply is None else ast.literal_eval(reply[1])

    def size(self):
        return self.r.llen(self.key)
