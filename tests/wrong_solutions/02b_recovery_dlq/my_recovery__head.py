# expect: recover\(\) put job first back at the head of the waiting list, behind next
# Re-queues with LPUSH, as the chapter does: a recovered job, which already waited its turn once, goes to the
# back of the line, behind every job enqueued since (atomic, counted, but not the next one taken).
import json
import time

RECOVER = """
-- KEYS: waiting, processing, leases   ARGV[1]: now. One script: two recoverers cannot both re-queue a job.
local expired = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", ARGV[1])
for _, entry in ipairs(expired) do
    redis.call("LREM", KEYS[2], 1, entry)
    redis.call("LPUSH", KEYS[1], entry)     -- the head: behind every job waiting
    redis.call("ZREM", KEYS[3], entry)
end
return #expired
"""


class MyLeasedQueue:
    """A reliable queue whose deliveries carry a lease: a deadline kept in the sorted set `leases`."""

    lease_seconds = 0.3

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.waiting = name
        self.processing = name + ":processing"
        self.leases = name + ":leases"           # member = the entry, score = its deadline (unix s)

    def enqueue(self, job):
        self.r.lpush(self.waiting, json.dumps(job))

    def dequeue(self, timeout):
        """Move the oldest job to processing and give it a lease until now + lease_seconds."""
        entry = self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")
        if entry is not None:
            self.r.zadd(self.leases, {entry: time.time() + self.lease_seconds})
        return entry

    def ack(self, entry):
        """Done: remove the entry from processing, and its lease."""
        pipe = self.r.pipeline(transaction=True)
        pipe.lrem(self.processing, 1, entry)
        pipe.zrem(self.leases, entry)
        pipe.execute()

    def recover(self, now):
        """Put every job whose lease deadline is <= `now` back at the tail of the waiting list (next to
        be taken), removing it from processing and from the leases; return how many."""
        script = self.r.register_script(RECOVER)         # registering sends nothing; the call is EVALSHA
        return script(keys=[self.waiting, self.processing, self.leases], args=[now])
