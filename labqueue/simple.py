"""Pattern 1, the simple FIFO queue: LPUSH at the head, BRPOP (or RPOP) at the tail.

Redis structures: the list `lq:{name}:waiting` of serialised jobs. A job popped by a worker that
then dies is lost: nothing in Redis remembers it. That is the lesson of notebook 01, and why
pattern 2 exists.
"""

from __future__ import annotations

from typing import Any

from redis.client import NEVER_DECODE

from .base import BaseQueue, check_timeout
from .job import Job, require_job
from .scripts import Outcome


class SimpleQueue(BaseQueue):
    """`SimpleQueue(redis_client, queue_name)`: the chapter's FIFO list, without its prints."""

    def dequeue(self, timeout: float = 0) -> Job | None:
        """The oldest job, waiting up to `timeout` seconds (BRPOP), or not at all when 0 (RPOP).

        An entry that is not a job goes to the dead-letter queue and the next one is taken.
        """
        timeout = check_timeout(timeout)
        while True:  # the entry's exact bytes (NEVER_DECODE): one that is not UTF-8 is dead-lettered as it is
            if timeout > 0:
                reply = self.redis.execute_command("BRPOP", self.keys.waiting, timeout, **{NEVER_DECODE: []})
                raw = reply[1] if reply else None
            else:
                raw = self.redis.execute_command("RPOP", self.keys.waiting, **{NEVER_DECODE: []})
            if raw is None:
                return None
            job = self._parse(raw)
            if job is not None:
                return job

    def _parse(self, raw: Any) -> Job | None:
        """Parse a popped entry; an entry that is not a job goes to the dead-letter queue."""
        try:
            return Job.from_json(raw, attempts=1)
        except Exception as exc:  # any bytes at all: a job, or a dead letter with its reason
            self.bury(raw, str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}")
            return None

    def ack(self, job: Job | str) -> bool:
        """Nothing to do: the job left Redis when it was popped (that is the problem)."""
        require_job(job, "ack")
        return False

    def nack(self, job: Job, error: str = "failed", *, retry: bool = True) -> Outcome:
        """No retry on a simple queue: a failed job goes to the dead-letter queue with its reason."""
        require_job(job, "nack")
        self.bury(job, error)
        return Outcome.DEAD

    def size(self) -> int:
        """Jobs waiting (LLEN)."""
        return int(self.redis.llen(self.keys.waiting))
