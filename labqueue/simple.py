"""Pattern 1, the simple FIFO queue: LPUSH at the head, BRPOP (or RPOP) at the tail.

Redis structures: the list `lq:{name}:waiting` of serialised jobs. A job popped by a worker that
then dies is lost: nothing in Redis remembers it. That is the lesson of notebook 01, and why
pattern 2 exists.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from redis.client import NEVER_DECODE

from .base import BaseQueue, check_timeout
from .job import Job, require_job
from .scripts import Outcome


class OneAtATime:
    """What labqueue.Worker drives, over a queue's own dequeue / ack / nack: one job per take, no lease
    (no heartbeat). SimpleQueue and its kin use it, and so does the lab's harness for a student's queue."""

    lease_seconds: float | None = None

    def take(self, count: int, ack: Sequence[Any], wait: float, stop: threading.Event,
             burst: bool = False) -> list[Any] | None:
        """One job, waiting up to `wait` s (dequeue); none: [], or None when `burst`. Nothing to ack."""
        job = self.dequeue(timeout=wait)  # type: ignore[attr-defined]
        return [job] if job is not None else (None if burst else [])

    def complete(self, job: Any, result: Any, seconds: float) -> Outcome:
        """The job succeeded: ack it (a no-op where it left Redis when it was taken)."""
        self.ack(job)  # type: ignore[attr-defined]
        return Outcome.COMPLETED

    def fail(self, job: Any, reason: str, *, retry: bool = True, seconds: float = 0.0) -> Outcome:
        """A failed attempt: nack (a SimpleQueue dead-letters it with its reason)."""
        nack = self.nack  # type: ignore[attr-defined]
        return nack(job, reason) if retry else nack(job, reason, retry=False)  # type: ignore[no-any-return]

    def no_handler(self, job: Any, known: str) -> tuple[Outcome, str]:
        """No handler for the job's type: nack, no retry (the dead-letter queue)."""
        reason = f"unknown job type {job.type!r}: no handler registered (known: {known})"
        return self.nack(job, reason, retry=False), reason  # type: ignore[attr-defined]


class SimpleQueue(OneAtATime, BaseQueue):
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
