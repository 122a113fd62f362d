"""Pattern 2, the reliable queue: jobs are moved, never popped, so a dead worker loses nothing.

Redis structures (all `lq:{name}:...`): `waiting` and `processing` lists of serialised jobs;
`inflight` (id -> the exact serialised job in `processing`), `attempts` (id -> deliveries) and
`orphans` hashes; the `leases` sorted set (id -> deadline); the `delayed` sorted set of retries
(serialised job -> retry time); the dead-letter hashes `dlq` and `dlq:meta`.

Every transition is one atomic command or one Lua script: BLMOVE waiting -> processing then
lease.lua, claim.lua (ack + promote due retries + claim N), nack.lua, recover.lua, replay.lua.
Acks go by job id through `inflight`, so a job the caller modified is still found (the chapter
re-serialises the job and its LREM never matches).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from . import scripts
from .base import BaseQueue, text
from .checks import number
from .connection import is_fake
from .job import Job, require_job
from .retry import Backoff

RETRIED, DEAD, RELEASED, NOT_IN_FLIGHT = 1, 2, 3, 0
LEASED_ID = re.compile(r'^\{"id":"([^"\\]+)",')  # the string match claim.lua reads ids with


class ReliableQueue(BaseQueue):
    """`ReliableQueue(redis_client, queue_name)`: processing list, leases, retries and a DLQ."""

    def __init__(self, redis_client: Any, queue_name: str = "jobs", *, lease_seconds: float = 5.0,
                 max_attempts: int = 3, backoff: Backoff | None = None,
                 orphan_grace: float | None = None, rng: random.Random | None = None,
                 **options: Any) -> None:
        super().__init__(redis_client, queue_name, max_attempts=max_attempts, **options)
        self.lease_seconds = number("lease_seconds", lease_seconds, above=True)
        self.backoff = backoff if backoff is not None else Backoff.exponential(0.5, cap=30.0)
        self.rng = rng or random.Random()  # jitter source: seed it to make retries reproducible
        self.orphan_grace = self.lease_seconds if orphan_grace is None else number("orphan_grace", orphan_grace)
        self._fake = is_fake(redis_client)
        self._lease = scripts.load(redis_client, "lease")
        self._claim = scripts.load(redis_client, "claim")
        self._nack = scripts.load(redis_client, "nack")
        self._recover = scripts.load(redis_client, "recover")
        k = self.keys
        self._claim_keys = [k.waiting, k.processing, k.inflight, k.attempts, k.leases, k.delayed,
                            k.dlq, k.dlq_meta, k.seq]

    # -- consuming -----------------------------------------------------------------------------
    def dequeue(self, timeout: float = 0) -> Job | None:
        """Move the oldest job to processing and lease it, waiting up to `timeout` s.

        BLMOVE (BRPOPLPUSH on fakeredis, whose BLMOVE does not block) or LMOVE, then lease.lua.
        An entry that is not a job is dead-lettered and the next one taken.
        """
        while True:
            job, invalid = self._dequeue_one(timeout)
            if not invalid:
                return job

    def _dequeue_one(self, timeout: float) -> tuple[Job | None, bool]:
        """One BLMOVE/LMOVE + lease.lua; (job or None, True when the entry was not a valid job)."""
        k = self.keys
        if timeout > 0:
            if self._fake:
                raw = self.redis.brpoplpush(k.waiting, k.processing, timeout=timeout)
            else:
                raw = self.redis.blmove(k.waiting, k.processing, timeout, "RIGHT", "LEFT")
        else:
            raw = self.redis.lmove(k.waiting, k.processing, "RIGHT", "LEFT")
        if raw is None:
            return None, False
        raw = text(raw)
        now = time.time()
        reply = self._lease(keys=[k.processing, k.inflight, k.attempts, k.leases, k.orphans, k.dlq,
                                  k.dlq_meta, k.seq], args=[raw, now + self.lease_seconds, now])
        if int(reply[0]) != 1:
            return None, int(reply[0]) == -1  # taken back by recovery, or not a job (now in the DLQ)
        job = self._parse(raw, int(reply[1]))
        return job, job is None

    def claim(self, count: int = 1, ack: Sequence[str] = ()) -> tuple[list[Job], float | None]:
        """Ack `ack`, promote due retries, claim up to `count` jobs: one round trip (claim.lua).

        Returns the jobs and the time of the next delayed retry (None when there is none). A claimed
        entry that is not a valid job is dead-lettered and another one claimed in its place.
        """
        jobs: list[Job] = []
        acks = list(ack)
        while True:
            now = time.time()
            reply = self._claim(keys=self._claim_keys,
                                args=[now, now + self.lease_seconds, count - len(jobs), len(acks), *acks])
            acks = []
            next_due = text(reply[1])
            parsed = [self._parse(text(reply[i]), int(reply[i + 1])) for i in range(2, len(reply), 2)]
            jobs += [job for job in parsed if job is not None]
            if None not in parsed or len(jobs) >= count:
                return jobs, (float(next_due) if next_due else None)

    def _parse(self, raw: str, attempts: int) -> Job | None:
        """Parse a leased entry; a JSON entry that is not a valid job is dead-lettered at once."""
        try:
            return Job.from_json(raw, attempts=attempts)
        except ValueError as exc:  # the scripts leased it under the id they read: bury it under that id
            match = LEASED_ID.match(raw)
            job_id = match.group(1) if match else json.loads(raw)["id"]
            self._nack(keys=self._nack_keys(), args=[job_id, time.time(), "dead", 0, json.dumps(str(exc)), 0])
            return None

    def _nack_keys(self) -> list[str]:
        k = self.keys
        return [k.waiting, k.processing, k.inflight, k.attempts, k.leases, k.delayed, k.dlq, k.dlq_meta]

    def ack(self, *jobs: Job | str) -> int:
        """Finish jobs by id: out of processing, lease and attempts dropped; returns how many (claim.lua)."""
        for j in jobs:
            require_job(j, "ack")
        ids = [j.id if isinstance(j, Job) else j for j in jobs]
        acked, _ = self._claim(keys=self._claim_keys, args=[time.time(), 0, 0, len(ids), *ids])[:2]
        return int(acked)

    def nack(self, job: Job | str, error: str = "failed", *, retry: bool = True,
             delay: float | None = None) -> int:
        """Fail one delivery: retry after the backoff, or dead-letter when attempts are spent (nack.lua).

        Returns RETRIED, DEAD, or NOT_IN_FLIGHT when the lease had expired and recovery took the job.
        """
        require_job(job, "nack")
        job_id = job.id if isinstance(job, Job) else job
        attempts = job.attempts if isinstance(job, Job) else 1
        max_attempts = job.max_attempts if isinstance(job, Job) else self.max_attempts
        now = time.time()
        wait = self.backoff.delay(attempts, self.rng) if delay is None else number("delay", delay)
        return int(self._nack(keys=self._nack_keys(), args=[
            job_id, now, "retry" if retry else "dead", now + wait, json.dumps(error), max_attempts]))

    def release(self, job: Job | str) -> int:
        """Hand a job back unprocessed, at the head of the queue, delivery not counted (nack.lua)."""
        require_job(job, "release")
        job_id = job.id if isinstance(job, Job) else job
        return int(self._nack(keys=self._nack_keys(), args=[job_id, time.time(), "release", 0, '""', 0]))

    def extend_lease(self, jobs: Iterable[Job | str], seconds: float | None = None) -> int:
        """Heartbeat: push the leases of jobs still held forward; returns how many (ZADD XX CH)."""
        deadline = time.time() + (self.lease_seconds if seconds is None else number("seconds", seconds, above=True))
        mapping = {j.id if isinstance(j, Job) else j: deadline for j in jobs}
        return int(self.redis.zadd(self.keys.leases, mapping, xx=True, ch=True)) if mapping else 0

    def recover_stale_jobs(self) -> dict[str, int]:
        """Re-queue jobs whose lease expired and long-unleased orphans; DLQ when spent (recover.lua)."""
        k = self.keys
        requeued, dead, orphans = self._recover(
            keys=[k.waiting, k.processing, k.inflight, k.attempts, k.leases, k.orphans, k.dlq, k.dlq_meta],
            args=[time.time(), self.orphan_grace, self.max_attempts])
        return {"requeued": int(requeued), "dead": int(dead), "orphans": int(orphans)}

    # -- inspecting ----------------------------------------------------------------------------
    def size(self) -> int:
        """Jobs waiting (LLEN)."""
        return int(self.redis.llen(self.keys.waiting))

    def processing_size(self) -> int:
        """Jobs in the processing list (LLEN)."""
        return int(self.redis.llen(self.keys.processing))

    def delayed_size(self) -> int:
        """Retries waiting for their backoff to pass (ZCARD)."""
        return int(self.redis.zcard(self.keys.delayed))

    def next_lease_deadline(self) -> float | None:
        """Unix time at which the first lease expires, or None (ZRANGE leases 0 0 WITHSCORES)."""
        first = self.redis.zrange(self.keys.leases, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def leases(self) -> dict[str, float]:
        """In-flight job id -> seconds left on its lease (ZRANGE WITHSCORES)."""
        now = time.time()
        return {text(m): s - now for m, s in self.redis.zrange(self.keys.leases, 0, -1, withscores=True)}

    def counts(self) -> dict[str, int]:
        """Waiting, processing, delayed and dead jobs, in one round trip (pipeline)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.keys.waiting)
        pipe.llen(self.keys.processing)
        pipe.zcard(self.keys.delayed)
        pipe.hlen(self.keys.dlq)
        waiting, processing, delayed, dead = pipe.execute()
        return {"waiting": waiting, "processing": processing, "delayed": delayed, "dead": dead}
