"""Pattern 2, the reliable queue: jobs are moved, never popped, so a dead worker loses nothing.

Redis structures (all `lq:{name}:...`): `waiting` and `processing` lists of serialised jobs;
`inflight` (delivery token -> the exact serialised job in `processing`), `attempts` (id ->
deliveries, from enqueue to ack or dead letter: the ids live in the queue) and `orphans` hashes;
the `leases` sorted set (delivery token -> deadline); the `delayed` sorted set of retries
(serialised job -> retry time); the dead-letter hashes `dlq` and `dlq:meta`.

Every transition is one atomic command or one Lua script: enqueue.lua, BLMOVE waiting ->
processing then lease.lua, claim.lua (ack + promote due retries + claim N), nack.lua, extend.lua,
recover.lua, replay.lua. Each delivery gets its own token ('<n>:<job id>', `job.token`): ack,
nack, release and extend act on that delivery only, so a late call from a worker whose lease
expired changes nothing, and a job the caller modified is still found (the chapter re-serialises
the job and its LREM never matches). Times are the server's (TIME inside the scripts).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis.client import NEVER_DECODE
from redis.exceptions import NoScriptError

from . import scripts
from .scripts import Outcome
from .base import BaseQueue, check_timeout, text
from .checks import integer, number
from .connection import is_fake
from .errors import DuplicateJob
from .job import Job, require_job
from .retry import Backoff
from .threads import redis_wait

TOKEN = re.compile(r"^[0-9]+:.", re.S)  # a delivery token: '<n>:<job id>'
LEASE_TOKEN = re.compile(rb"^[0-9]+:(.*)$", re.S)  # a leases member as recover.lua reads it: the job id after "<n>:"


def token_of(job: Job | str) -> str:
    """The delivery token of a job in hand (`job.token`), or a token given as a string."""
    token = job.token if isinstance(job, Job) else job
    if not isinstance(token, str) or not TOKEN.match(token):
        raise ValueError(f"{token!r} is not a delivery token: pass the Job you were given (or its "
                         "job.token); a job id alone cannot tell one delivery of it from another")
    return token


def run_script(client: Any, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """Run a registered script and return its reply undecoded (bytes), whatever the client decodes.

    Jobs are read back as bytes so that an entry that is not valid UTF-8 reaches our parser (and
    the dead-letter queue) instead of failing inside redis-py. EVALSHA, EVAL after a restart.
    """
    try:
        return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args, **{NEVER_DECODE: []})
    except NoScriptError:
        return client.execute_command("EVAL", script.script, len(keys), *keys, *args, **{NEVER_DECODE: []})


class ReliableQueue(BaseQueue):
    """`ReliableQueue(redis_client, queue_name)`: processing list, leases, retries and a DLQ.

    Every time that decides anything (lease deadlines, retry due times, recovery) is the Redis
    server's clock, read by the scripts (TIME). `clock` is for teaching and tests only: a function
    returning a fake "now" that the scripts then use instead (the model test's time travel).
    """

    def __init__(self, redis_client: Any, queue_name: str = "jobs", *, lease_seconds: float = 5.0,
                 max_attempts: int = 3, backoff: Backoff | None = None,
                 orphan_grace: float | None = None, rng: random.Random | None = None,
                 clock: Callable[[], float] | None = None, **options: Any) -> None:
        super().__init__(redis_client, queue_name, max_attempts=max_attempts, **options)
        self.lease_seconds = number("lease_seconds", lease_seconds, above=True)
        self.backoff = backoff if backoff is not None else Backoff.exponential(0.5, cap=30.0)
        self.rng = rng or random.Random()  # jitter source: seed it to make retries reproducible
        self.orphan_grace = self.lease_seconds if orphan_grace is None else number("orphan_grace", orphan_grace)
        self.clock = clock
        self._fake = is_fake(redis_client)
        self._enqueue = scripts.load(redis_client, "enqueue")
        self._lease = scripts.load(redis_client, "lease")
        self._claim = scripts.load(redis_client, "claim")
        self._nack = scripts.load(redis_client, "nack")
        self._extend = scripts.load(redis_client, "extend")
        self._recover = scripts.load(redis_client, "recover")
        self._leases = scripts.load(redis_client, "leases")
        k = self.keys
        self._claim_keys = [k.waiting, k.processing, k.inflight, k.attempts, k.leases, k.delayed,
                            k.dlq, k.dlq_meta, k.seq]

    def _now(self) -> str:
        """The scripts' ARGV "now": '' (they read the server's TIME), or the test clock's time."""
        return "" if self.clock is None else repr(self.clock())

    def _local(self, seconds_from_now: Any, sent_at: float) -> float | None:
        """A delay the server reported ('' = none) as a time on this process's clock (or the test clock).

        Counted from `sent_at`, our time when the request left: early by the network delay at
        worst, never late (a worker then looks again a little early instead of oversleeping).
        """
        delay = text(seconds_from_now) if seconds_from_now is not None else ""
        return sent_at + float(delay) if delay else None

    def _clock_now(self) -> float:
        return (self.clock or time.time)()

    # -- producing -----------------------------------------------------------------------------
    def enqueue(self, job_data: dict[str, Any], *, type: str | None = None, job_id: str | None = None,
                max_attempts: int | None = None) -> str:
        """Add a job at the head of the waiting list; returns its id (LPUSH, or enqueue.lua given a `job_id`).

        A `job_id` of yours is checked: DuplicateJob when a job with that id is already waiting
        (enqueued under that id), in flight or waiting for a retry. A generated id (128 random bits)
        is new by construction and costs no check and no memory.
        """
        job = self._new_job(job_data, type=type, job_id=job_id, max_attempts=max_attempts)
        if job_id is None:
            if self.durable:
                self._write(lambda c: c.lpush(self.keys.waiting, job.raw))
            else:  # the plain case without the _write indirection: enqueue is the hot path
                self.redis.lpush(self.keys.waiting, job.raw)
            return job.id
        duplicate = self._write(lambda c: self._enqueue(keys=[self.keys.waiting, self.keys.attempts],
                                                        args=[job.id, job.raw], client=c))
        if duplicate:
            raise DuplicateJob(f"job id {text(duplicate[0])!r} is already in queue {self.name!r} (waiting, in "
                               "flight or waiting for a retry): nothing was enqueued; use another id, or "
                               "enqueue it again once that job is done")
        return job.id

    def _target(self) -> tuple[str, str]:
        return "reliable", self.keys.waiting  # replay.lua marks the ids live again in `attempts`

    # -- consuming -----------------------------------------------------------------------------
    def dequeue(self, timeout: float = 0) -> Job | None:
        """Move the oldest job to processing and lease it, waiting up to `timeout` s.

        BLMOVE (BRPOPLPUSH on fakeredis, whose BLMOVE does not block) or LMOVE, then lease.lua.
        An entry that is not a job is dead-lettered and the next one taken.
        """
        timeout = check_timeout(timeout)
        while True:
            job, invalid = self._dequeue_one(timeout)
            if not invalid:
                return job

    def _dequeue_one(self, timeout: float) -> tuple[Job | None, bool]:
        """One BLMOVE/LMOVE + lease.lua; (job or None, True when the entry was not a valid job)."""
        k = self.keys
        raw_only = {NEVER_DECODE: []}  # the exact bytes: lease.lua must find them, bad UTF-8 included
        if timeout > 0:
            if self._fake:
                raw = self.redis.execute_command("BRPOPLPUSH", k.waiting, k.processing, timeout, **raw_only)
            else:
                raw = self.redis.execute_command("BLMOVE", k.waiting, k.processing, "RIGHT", "LEFT", timeout,
                                                 **raw_only)
        else:
            raw = self.redis.execute_command("LMOVE", k.waiting, k.processing, "RIGHT", "LEFT", **raw_only)
        if raw is None:
            return None, False
        reply = run_script(self.redis, self._lease, [k.processing, k.inflight, k.attempts, k.leases, k.orphans,
                                                     k.dlq, k.dlq_meta, k.seq],
                           [raw, self.lease_seconds, self._now()])
        if int(reply[0]) != 1:
            return None, int(reply[0]) == -1  # taken back by recovery, or not a job (now in the DLQ)
        job = self._parse(raw, int(reply[1]), reply[2])
        return job, job is None

    def claim(self, count: int = 1, ack: Sequence[Job | str] = ()) -> tuple[list[Job], float | None]:
        """Ack `ack` (jobs or tokens), promote due retries, claim up to `count` jobs: one round trip (claim.lua).

        Returns the jobs and when the next delayed retry is due, on this process's clock (None when
        there is none). A claimed entry that is not a valid job is dead-lettered and another one
        claimed in its place. `count` is an int >= 0 (0: ack and promote only, or load the script),
        checked before anything is acked or claimed: claim.lua takes the number as it comes (2.5
        claimed 3 jobs, inf every one).
        """
        count = integer("count", count)
        jobs: list[Job] = []
        acks = [token_of(j) for j in ack]
        while True:
            sent_at = self._clock_now()
            reply = run_script(self.redis, self._claim, self._claim_keys,
                               [self._now(), self.lease_seconds, count - len(jobs), len(acks), *acks])
            acks = []
            next_due = self._local(reply[1], sent_at)
            parsed = [self._parse(reply[i], int(reply[i + 1]), reply[i + 2]) for i in range(2, len(reply), 3)]
            jobs += [job for job in parsed if job is not None]
            if None not in parsed or len(jobs) >= count:
                return jobs, next_due

    def _parse(self, raw: bytes | str, attempts: int, token: bytes | str) -> Job | None:
        """Parse a leased entry; anything that is not a valid job (bad UTF-8 included) is dead-lettered at once.

        `token` is the script's reply as it came (bytes): an entry whose id is not UTF-8 has a token
        that is not UTF-8 either, and only its exact bytes name the delivery to dead-letter.
        """
        try:
            job = Job.from_json(raw, attempts=attempts)
        except Exception as exc:  # any bytes at all: a job, or a dead letter with its reason
            reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            run_script(self.redis, self._nack, self._nack_keys(), [token, self._now(), "dead", 0,
                                                                 json.dumps(reason[:500]), 0])
            return None
        job.token = text(token)  # a valid job is UTF-8 throughout: its id, so its token, decodes exactly
        return job

    def _nack_keys(self) -> list[str]:
        k = self.keys
        return [k.waiting, k.processing, k.inflight, k.attempts, k.leases, k.delayed, k.dlq, k.dlq_meta]

    def ack(self, *jobs: Job | str) -> int:
        """End deliveries that succeeded (the Jobs, or their tokens); returns how many were still ours (claim.lua).

        A delivery whose lease expired and was taken back is not ours any more: it counts 0.
        """
        for j in jobs:
            require_job(j, "ack")
        tokens = [token_of(j) for j in jobs]
        acked = run_script(self.redis, self._claim, self._claim_keys, [self._now(), 0, 0, len(tokens), *tokens])[0]
        return int(acked)

    def nack(self, job: Job | str, error: str = "failed", *, retry: bool = True,
             delay: float | None = None) -> Outcome:
        """Fail one delivery: retry after the backoff, or dead-letter when attempts are spent (nack.lua).

        Returns Outcome.RETRIED, DEAD, or NOT_OURS when this delivery's lease had expired (recovery
        took the job back; it may be running elsewhere): nothing is changed then.
        """
        require_job(job, "nack")
        token = token_of(job)
        attempts = job.attempts if isinstance(job, Job) else 1
        max_attempts = job.max_attempts if isinstance(job, Job) else self.max_attempts
        wait = self.backoff.delay(attempts, self.rng) if delay is None else number("delay", delay)
        return Outcome(int(self._nack(keys=self._nack_keys(), args=[
            token, self._now(), "retry" if retry else "dead", repr(float(wait)), json.dumps(error), max_attempts])))

    def release(self, job: Job | str) -> Outcome:
        """Hand a job back unprocessed, at the head of the queue, delivery not counted (nack.lua).

        Returns Outcome.RELEASED, or NOT_OURS when this delivery is no longer ours.
        """
        require_job(job, "release")
        return Outcome(int(self._nack(keys=self._nack_keys(), args=[token_of(job), self._now(), "release", 0, '""', 0])))

    def extend_lease(self, jobs: Iterable[Job | str], seconds: float | None = None) -> int:
        """Heartbeat: push the leases of deliveries still ours forward; returns how many (extend.lua)."""
        seconds = self.lease_seconds if seconds is None else number("seconds", seconds, above=True)
        tokens = [token_of(j) for j in jobs]
        if not tokens:
            return 0
        return int(self._extend(keys=[self.keys.leases], args=[self._now(), seconds, *tokens]))

    def recover_stale_jobs(self) -> dict[str, int]:
        """Re-queue jobs whose lease expired and long-unleased orphans; DLQ when spent (recover.lua)."""
        return self.recover_and_next()[0]

    def recover_and_next(self) -> tuple[dict[str, int], float | None]:
        """recover_stale_jobs(), plus when the earliest running lease expires, on this process's clock."""
        k = self.keys
        sent_at = self._clock_now()
        requeued, dead, orphans, next_in = self._recover(
            keys=[k.waiting, k.processing, k.inflight, k.attempts, k.leases, k.orphans, k.dlq, k.dlq_meta],
            args=[self._now(), self.orphan_grace, self.max_attempts])
        return {"requeued": int(requeued), "dead": int(dead), "orphans": int(orphans)}, self._local(next_in, sent_at)

    # -- what labqueue.Worker drives ---------------------------------------------------------
    def take(self, count: int, ack: Sequence[Job], wait: float, stop: threading.Event,
             burst: bool = False) -> list[Job] | None:
        """Ack `ack`, claim up to `count` (claim.lua); none: wait up to `wait` s in BLMOVE, or until the next
        retry is due (dequeue). None when `burst` and nothing is waiting or due."""
        jobs, next_due = self.claim(count, ack=ack)
        if jobs or (burst and next_due is None):
            return jobs or None
        until = redis_wait(next_due, wait, stop)
        job = None if until is None else self.dequeue(timeout=until)  # None: a retry is due, claim again
        return [job] if job is not None else []

    def complete(self, job: Job, result: Any, seconds: float) -> None:
        """Nothing now: a finished job is acked with the worker's next take (a batch, claim.lua)."""

    def fail(self, job: Job, reason: str, *, retry: bool = True, seconds: float = 0.0) -> Outcome:
        """A failed attempt: nack (retry after the backoff, or the DLQ when attempts are spent)."""
        return self.nack(job, reason, retry=retry)

    def no_handler(self, job: Job, known: str) -> tuple[Outcome, str]:
        """No handler for the job's type: to the dead-letter queue at once (retrying cannot help)."""
        reason = f"unknown job type {job.type!r}: no handler registered (known: {known})"
        return self.nack(job, reason, retry=False), reason

    def recover(self) -> tuple[int, float | None]:
        """Re-queue expired leases and orphans (recover.lua): how many, and the next lease deadline."""
        found, deadline = self.recover_and_next()
        return found["requeued"] + found["orphans"], deadline

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
        """When the first lease expires, on this process's clock, or None (leases.lua)."""
        sent_at = self._clock_now()
        left = self._lease_table(0)
        return sent_at + min(left.values()) if left else None

    def leases(self) -> dict[str, float]:
        """In-flight job id -> seconds left on its lease, by the server's clock (leases.lua)."""
        return self._lease_table(-1)

    def _lease_table(self, stop: int) -> dict[str, float]:
        """Job id -> seconds left of the first `stop` + 1 leases (-1: all), read as bytes (leases.lua).

        A member that is no delivery token ('<digits>:<id>'), e.g. one written by hand, is shown under
        its raw text rather than crashing the inspection; recover.lua drops it once its deadline passes.
        """
        reply = scripts.run_raw(self.redis, self._leases, [self.keys.leases], [self._now(), stop])
        table = {}
        for member, left in zip(reply[::2], reply[1::2]):
            token = LEASE_TOKEN.match(member)
            table[text(token.group(1) if token else member)] = float(left)
        return table

    def counts(self) -> dict[str, int]:
        """Waiting, processing, delayed and dead jobs, in one round trip (pipeline)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.keys.waiting)
        pipe.llen(self.keys.processing)
        pipe.zcard(self.keys.delayed)
        pipe.hlen(self.keys.dlq)
        waiting, processing, delayed, dead = pipe.execute()
        return {"waiting": waiting, "processing": processing, "delayed": delayed, "dead": dead}
