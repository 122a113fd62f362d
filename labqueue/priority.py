"""Pattern 3, the priority queue: a sorted set, lower score first, FIFO among equal priorities.

Redis structures: the sorted set `lq:{name}:priority` whose members are the serialised jobs
themselves (so a job's data is added and removed atomically with its queue entry, and no TTL can
drop a job that waited long: the chapter's separate data key with a 1 h TTL can), and the counter
`lq:{name}:seq` that orders equal priorities: score = priority * 2**32 + arrival number, the one
scheme of labqueue.priority_score (the JobQueue's and BullMQ's), exact for priorities 0..2**21 - 1.
Scripts: priority_push.lua; BZPOPMIN / ZPOPMIN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.client import NEVER_DECODE

from . import scripts
from .base import check_timeout
from .checks import integer
from .errors import InvalidJob
from .job import Job
from .priority_score import MAX_PRIORITY, WHY
from .simple import SimpleQueue

PRIORITY_MAX = MAX_PRIORITY  # 2**21 - 1: every score exact (labqueue.priority_score); 10,000 before


class PriorityQueue(SimpleQueue):
    """`PriorityQueue(redis_client, queue_name)`: `enqueue(data, priority=1)` comes out before 5."""

    PRIORITY_HIGH = 1
    PRIORITY_NORMAL = 5
    PRIORITY_LOW = 10

    def __init__(self, redis_client: Any, queue_name: str = "priority_jobs", **options: Any) -> None:
        super().__init__(redis_client, queue_name, **options)
        self._push = scripts.load(redis_client, "priority_push")

    def _build(self, job_data: dict[str, Any], priority: int, **options: Any) -> Job:
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= PRIORITY_MAX:
            raise InvalidJob(f"priority must be an integer from 0 (first) to {PRIORITY_MAX} (2**21 - 1: {WHY}), "
                             f"got {priority!r}")
        return self._new_job(job_data, priority=priority, **options)

    def enqueue(self, job_data: dict[str, Any], priority: int = PRIORITY_NORMAL, *,  # type: ignore[override]
                type: str | None = None, job_id: str | None = None) -> str:
        """Add a job with a priority (lower comes first); returns its id (priority_push.lua)."""
        job = self._build(job_data, priority, type=type, job_id=job_id)
        self._write(lambda c: self._push(keys=[self.keys.priority, self.keys.seq], args=[priority, job.raw], client=c))
        return job.id

    def enqueue_many(self, jobs: Iterable[dict[str, Any]],  # type: ignore[override]
                     priority: int = PRIORITY_NORMAL) -> list[str]:
        """Add many jobs of one priority in one round trip, in order (priority_push.lua)."""
        built = [self._build(data, priority) for data in jobs]
        if built:
            args: list[Any] = []
            for job in built:
                args += [priority, job.raw]
            self._write(lambda c: self._push(keys=[self.keys.priority, self.keys.seq], args=args, client=c))
        return [job.id for job in built]

    def dequeue(self, timeout: float = 0) -> Job | None:
        """The job with the lowest priority number, oldest first; waits up to `timeout` (BZPOPMIN/ZPOPMIN).

        An entry that is not a job goes to the dead-letter queue and the next one is taken (None would
        say the queue is empty: a burst worker would stop with jobs still waiting).
        """
        timeout = check_timeout(timeout)
        raw_only = {NEVER_DECODE: []}  # the entry's exact bytes: one that is not UTF-8 is dead-lettered
        while True:
            if timeout > 0:
                reply = self.redis.execute_command("BZPOPMIN", self.keys.priority, timeout, **raw_only)
                raw = reply[1] if reply else None
            else:
                popped = self.redis.execute_command("ZPOPMIN", self.keys.priority, 1, **raw_only)
                raw = (popped[0][0] if isinstance(popped[0], (tuple, list)) else popped[0]) if popped else None
            if raw is None:
                return None
            job = self._parse(raw)
            if job is not None:
                return job

    def peek(self, count: int = 10) -> list[Job]:
        """The next `count` jobs in delivery order, without removing them (ZRANGE).

        `count` is an int >= 1 (up to ZRANGE's 64-bit stop + 1): ZRANGE 0 -1 (count 0) would read every
        job, and -1 all but one.
        """
        jobs = []
        for raw in self.redis.zrange(self.keys.priority, 0, integer("count", count, low=1, high=2**63) - 1):
            try:
                jobs.append(Job.from_json(raw))
            except ValueError:
                continue  # an entry that is not a job is dead-lettered when it is dequeued
        return jobs

    def size(self) -> int:
        """Jobs waiting (ZCARD)."""
        return int(self.redis.zcard(self.keys.priority))

    def _target(self) -> tuple[str, str]:
        return "zset", self.keys.priority
