# expect: dequeue returned the job's JSON text .* not the job: decode it \(json\.loads\)
# The entry returned as Redis gave it: the worker gets a string (bytes on a client without decode_responses).


class MyQueue:
    def __init__(self, redis_client, name):
        import json

        self.r = redis_client
        self.key = name
        self.dumps = json.dumps

    def enqueue(self, job):
        self.r.lpush(self.key, self.dumps(job))

    def dequeue(self, timeout):
        reply = self.r.brpop([self.key], timeout=timeout)
        return None if reply is None else reply[1]

    def size(self):
        return self.r.llen(self.key)
