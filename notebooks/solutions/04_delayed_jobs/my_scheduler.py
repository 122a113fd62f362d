import json

PROMOTE = """
-- KEYS[1]: the delayed sorted set (score = run-at, unix s)   KEYS[2]: the ready list   ARGV[1]: now
-- Move every job due at `now` (score <= now) to the ready list, the one due first pushed first;
-- return how many moved. Redis runs the whole script at once: nobody can act between its steps.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, job in ipairs(due) do
    redis.call('LPUSH', KEYS[2], job)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #due
"""


class MyScheduler:
    """Delayed jobs in a sorted set scored by run-at; promote_due moves the due ones to a ready list."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.delayed = name + ":delayed"
        self.ready = name + ":ready"            # workers RPOP from its tail
        self.promote = self.r.register_script(PROMOTE)

    def schedule(self, job, run_at):
        """Add `job` (a dict) to run at unix time `run_at` (ZADD)."""
        self.r.zadd(self.delayed, {json.dumps(job): run_at})

    def promote_due(self, now):
        """Move the jobs due at `now` to the ready list in one atomic step; return how many."""
        return self.promote(keys=[self.delayed, self.ready], args=[now])
