"""What a worker does to a `JobQueue`: claim, finish, progress, heartbeat, release (jq_*.lua).

`Deliveries` is the JobQueue's side of the interface `labqueue.Worker` drives on every queue kind
(take / complete / fail / no_handler / release / extend_lease / recover); a handler receives an
`ActiveJob`, as Bull's `job`. Redis structures: the `active` sorted set (job id -> lease deadline)
and the `runs` hash (job id -> delivery token), with the rest of `labqueue.jobspec`'s model.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import redis

from .base import text
from .checks import integer, number
from .errors import ConfigError
from .jobspec import JobRecord, _seconds
from .retry import Backoff
from .scripts import Outcome, run_raw
from .threads import redis_wait

log = logging.getLogger("labqueue.worker")
_CANCELLED_LOCK = threading.Lock()
_to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # json.dumps builds one a call
_OUTCOMES = {str(int(o)): o for o in Outcome}  # jq_finish.lua answers one digit a delivery
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


class JobCancelled(Exception):
    """Raised by `job.progress()` once the job timed out or was taken back from this worker."""


class ActiveJob:
    """A job in a handler's hands, as Bull's `job`: `job.data`, `job.attempts_made`, `job.progress(n)`.

    Built from the claimed record's fields for every job a worker runs, so it holds only what a handler
    and the worker use: its `record` (a JobRecord) and `cancelled` (a threading.Event) are made when asked for.
    """

    def __init__(self, queue: Any, job_id: str, raw: str, fields: dict[str, Any], token: int, attempts_made: int,
                 processed_on: float = 0.0) -> None:
        self.queue = queue
        self.id, self.raw = job_id, raw  # raw: the stored JSON record
        name = fields["name"]
        if type(name) is not str:  # a record written by hand: a list would fail the worker's handler lookup
            raise TypeError(f"its name must be a str, got {name!r}")
        self.name = self.type = name  # type: what labqueue.Worker picks the handler by
        self.data = fields["data"]
        self.opts: dict[str, Any] = fields.get("opts", {})
        self.timestamp = fields.get("ts", 0) / 1000
        timeout = self.opts.get("timeout")  # the job's own, over the worker's job_timeout; checked as add() does
        self.timeout: float | None = None if timeout is None else _seconds("timeout", timeout, positive=True)
        self.attempts_made = attempts_made  # failed attempts before this one
        self.token = token  # this delivery's number, never handed out again: finish and progress show it
        self.processed_on = processed_on  # when it was delivered (the server's clock, as the limiter's)
        self._cancelled: threading.Event | None = None
        self.last_progress: float = 0
        self.done: tuple[str, float] | None = None  # (return value JSON, seconds) once completed, until acked

    @property
    def record(self) -> JobRecord:
        """The job as JobQueue.get_job reads it (state active)."""
        return JobRecord.parse(self.id, self.raw, state="active", attempts_made=self.attempts_made)

    @property
    def cancelled(self) -> threading.Event:
        """Set once the job timed out, failed or was taken back: `progress()` raises from then on."""
        if self._cancelled is None:
            with _CANCELLED_LOCK:  # the handler's thread and the worker's may ask at once: one Event
                if self._cancelled is None:
                    self._cancelled = threading.Event()
        return self._cancelled

    def progress(self, value: float) -> None:
        """Report progress 0-100 (jq_progress.lua); JobCancelled if the job is no longer ours."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ValueError(f"progress must be a number from 0 to 100, got {value!r}")
        if self.cancelled.is_set() or not self.queue.set_progress(self.id, self.token, value):
            self.cancelled.set()
            raise JobCancelled(f"job {self.id} is no longer held by this worker (timed out or stalled)")
        self.last_progress = value

    def __repr__(self) -> str:
        return f"ActiveJob(id={self.id!r}, name={self.name!r}, attempts_made={self.attempts_made})"


class Deliveries:
    """The worker's transitions of a JobQueue (mixed into it): one script each."""

    lease_seconds: float
    rate_max: int
    rate_window: float
    keys: Any
    redis: Any
    _extend: Any
    _unstarted_lock: threading.Lock  # guards the two below (a queue's worker threads share them)
    _unstarted: list[tuple[str, int]]  # (id, token) of jobs take() could not start, not handed back yet
    _unstarted_error: Exception | None  # what stopped the first of them: the next take raises it

    # -- the scripts ---------------------------------------------------------------------------
    def claim(self, count: int) -> tuple[list[tuple[str, str, int, int]], float | None, float, float]:
        """Fetch up to `count` jobs: (id, json, token, failures) each, next due, limited for, server now.

        One round trip (jq_claim.lua); promotes due delayed jobs first. `count` is an int >= 0 (0: promote
        only), checked before the round trip as ReliableQueue.claim's: jq_claim.lua took the number as it came
        (2.5 failed in RPOP after promoting, inf claimed every job, -1 or NaN none without a word).
        """
        jobs, due, limited_for, server_now = self._claim(integer("count", count))
        return [(job_id, text(raw), token, made) for job_id, raw, token, made in jobs], due, limited_for, server_now

    def _claim(self, count: int) -> tuple[list[tuple[str, bytes, int, int]], float | None, float, float]:
        """claim(), each record as the bytes stored (the reply is never decoded by the client: a record that
        is not UTF-8 must fail alone in _start, not make the whole batch unreadable)."""
        sent_at = time.time()
        reply = run_raw(self.redis, self._s["claim"], self._k["claim"],  # type: ignore[attr-defined]
                        ["", self.events_maxlen, self.lease_seconds, count, self.rate_max, self.rate_window])
        heads = json.loads(reply[4]) if len(reply) > 4 else []  # every id is UTF-8: jq_claim.lua fails the others
        jobs = [(job_id, raw, token, made) for (job_id, token, made), raw in zip(heads, reply[5:])]
        due, server_now = text(reply[1]), float(reply[3])
        # the next due time on this process's clock: the server says how far off it is
        # (counted from when the request left: early by the network delay at worst, never late)
        return jobs, (sent_at + float(due) - server_now if due else None), float(text(reply[2])), server_now

    def finish(self, job_id: str, token: int, outcome: str, payload: str, *, retry_in: float = 0.0,
               duration: float = 0.0, name: str = "") -> Outcome:
        """End a delivery: COMPLETED, RETRIED (due `retry_in` s from now, server clock), DEAD (failed for
        good; outcome 'dead': at once, whatever attempts remain), or NOT_OURS if it stalled away (jq_finish.lua)."""
        return self.finish_many([(job_id, token, outcome, payload, retry_in, duration, name)])[0]

    def finish_many(self, ends: Iterable[tuple[str, int, str, str, float, float, str]]) -> list[Outcome]:
        """End deliveries in one round trip (jq_finish.lua): (job id, token, outcome, payload, retry_in,
        duration, name) each; their Outcomes, in order."""
        batch: list[Any] = []
        for job_id, token, outcome, payload, retry_in, duration, name in ends:
            integer("token", token)
            number("retry_in", retry_in)
            number("duration", duration)
            if outcome not in ("completed", "failed", "dead"):
                raise ConfigError(f"outcome must be 'completed', 'failed' or 'dead', got {outcome!r}")
            if outcome != "completed":  # an error message may hold a lone surrogate: no UTF-8 for it
                payload = payload.encode("utf-8", "backslashreplace").decode("utf-8")
            batch.append([job_id, token, outcome, payload, float(retry_in), float(duration),
                          bisect.bisect_left(BUCKETS, duration), name])
        if not batch:
            return []
        return self._finish(batch)

    def _finish(self, batch: list[list[Any]]) -> list[Outcome]:
        """Run jq_finish.lua on checked deliveries (finish_many's or ack's lists); their Outcomes."""
        return [_OUTCOMES[digit] for digit in text(self._run("finish", _to_json(batch)))]

    def set_progress(self, job_id: str, token: int, value: float) -> bool:
        """Record a job's progress and emit the event; False if the job is no longer ours (jq_progress.lua)."""
        return int(self._run("progress", job_id, token, value)) == 1

    def extend_leases(self, held: Iterable[tuple[str, int]]) -> int:
        """Heartbeat: push forward the leases of (job id, token) deliveries still ours (extend.lua)."""
        args = [str(a) for pair in held for a in pair]
        if not args:
            return 0
        return int(self._extend(keys=[self.keys.active, self.keys.runs],
                                args=["", self.lease_seconds, *args]))

    # -- what labqueue.Worker drives -----------------------------------------------------------
    def take(self, count: int, ack: list[Any], wait: float, stop: threading.Event,
             burst: bool = False) -> list[ActiveJob] | None:
        """Claim up to `count` jobs (jq_claim.lua); none: block on `marker` (BRPOP) up to `wait` s, or
        until the next delayed job / the limiter's free slot. None when `burst` and nothing is left.

        The jobs in `ack` (completed, their results kept on them) are finished first (jq_finish.lua,
        one round trip for the batch); `ack` is left as it is (the Worker clears it once take returns).
        A claimed job that cannot start (`_start` raised: Redis away, a key of the wrong type...) is
        handed back unrun and the rest of its batch returned; the next take raises the error, so the
        worker meets it (reconnect, quarantine or stop) once the jobs in hand are done (`_hand_back`).
        """
        integer("count", count)  # before the acks: a bad count finishes nothing either
        if ack:
            self.ack(*ack)
        if self._unstarted or self._unstarted_error is not None:
            self._hand_back(raise_error=True)
        claimed, next_due, limited_for, now = self._claim(count)
        jobs: list[ActiveJob] = []
        for job_id, raw, token, made in claimed:
            try:
                job = self._start(job_id, raw, token, made, now)
            except Exception as exc:  # never out of here: the whole batch would stay active in no one's hands
                log.warning("job %s not started (%s: %s): handed back to the queue; the rest of its batch runs",
                            job_id, type(exc).__name__, exc)
                with self._unstarted_lock:
                    self._unstarted.append((job_id, token))
                    self._unstarted_error = self._unstarted_error or exc
                continue
            if job is not None:
                jobs.append(job)
        if self._unstarted:
            with suppress(Exception):  # refused: still active under our lease, the next take sends it again
                self._hand_back(raise_error=False)
        if claimed:
            return jobs
        if burst and next_due is None and not limited_for:
            return None
        if limited_for > 0:
            stop.wait(min(limited_for, wait))
            return []
        until = redis_wait(next_due, wait, stop)
        if until is not None:  # None: a job is due within Redis's timer resolution, claim again
            self.redis.brpop(self.keys.marker, timeout=until)
        return []

    def _hand_back(self, raise_error: bool) -> None:
        """Release the jobs take() could not start, first in line in their order, no attempt or stall
        counted (one jq_release.lua call); then, with `raise_error`, raise what stopped the first of them.
        When Redis refuses the release, the jobs are kept for the next take and the refusal raised."""
        with self._unstarted_lock:
            owed, self._unstarted = self._unstarted, []
            error = self._unstarted_error if raise_error else None
            if raise_error:
                self._unstarted_error = None
        try:
            if owed:
                self._run("release", *(a for pair in reversed(owed) for a in pair))
        except Exception:
            with self._unstarted_lock:
                self._unstarted[:0] = owed
                self._unstarted_error = self._unstarted_error or error
            raise
        if error is not None:
            raise error

    def _start(self, job_id: str, stored: bytes | str, token: int, made: int, processed_on: float) -> ActiveJob | None:
        """A claimed job as its handler gets it, or None when it is not to run: a record that is not a job
        (junk JSON) fails for good, its reason stored. A repeatable job runs only once its next occurrence
        is scheduled (a crash cannot end the schedule); a schedule that cannot go on fails it, while an
        error from Redis on the way (away, a key of the wrong type...) is raised (take() hands the job back).
        """
        try:
            raw = stored.decode() if type(stored) is bytes else stored  # strict: not UTF-8 fails as not JSON
            job = ActiveJob(self, job_id, raw, json.loads(raw), token, made, processed_on)
        except Exception as exc:  # not UTF-8, not JSON, or not a job: it can never run (nothing silently dropped)
            reason = f"job record is unreadable ({type(exc).__name__}: {exc}): {text(stored[:80])!r}"
            log.error("job %s: %s", job_id, reason)
            self.finish(job_id, token, "dead", reason)  # for good: another attempt reads the same record
            return None
        if "repeat" in job.opts:
            try:
                self.add_next_occurrence(job.record, processed_on)  # type: ignore[attr-defined]  # before it runs: a crash cannot end the schedule
            except redis.RedisError:  # Redis away, a key of the wrong type...: take() hands the job back
                raise
            except Exception as exc:  # a schedule that cannot go on (never fires; every 0: ZeroDivisionError)
                reason = f"repeat schedule cannot continue: {exc}"
                log.error("job %s: %s", job_id, reason)
                self.finish(job_id, token, "failed", reason, name=job.name)
                return None
        return job

    def complete(self, job: ActiveJob, result: Any, seconds: float) -> Outcome | None:
        """Keep the return value (JSON) and the duration on the job: None, it is finished with the
        worker's next take (a batch, one round trip) or by ack(); a value that cannot be encoded as JSON fails it
        (whatever the encoder raised: the handler's value, never the worker thread's end)."""
        if not (type(seconds) is float and 0.0 <= seconds < math.inf):  # the Worker's own: checked once, here
            seconds = number("seconds", seconds)
        try:
            payload = "null" if result is None else _to_json(result)
        except Exception as exc:  # TypeError, ValueError, RecursionError (too deep), RuntimeError (changed meanwhile)
            return self.fail(job, f"return value is not JSON-serialisable: {type(exc).__name__}: {exc}",
                             seconds=seconds)
        job.done = (payload, seconds)
        return None

    def ack(self, *jobs: ActiveJob) -> int:
        """Finish completed jobs (their results, from complete()) in one round trip (jq_finish.lua);
        returns how many were still this worker's deliveries (a stalled one counts 0)."""
        batch = []
        for job in jobs:
            if job.done is None:
                raise ConfigError(f"ack: job {job.id} has no result yet (complete() keeps it)")
            payload, seconds = job.done  # checked by complete()
            batch.append([job.id, job.token, "completed", payload, 0.0, seconds, bisect.bisect_left(BUCKETS, seconds),
                          job.name])
        return sum(code is Outcome.COMPLETED for code in self._finish(batch)) if batch else 0

    def fail(self, job: ActiveJob, reason: str, *, retry: bool = True, seconds: float = 0.0) -> Outcome:
        """A failed attempt: retried after the job's backoff while attempts remain, else failed; with
        retry=False failed for good at once (jq_finish.lua); so is a job whose stored backoff is no policy.

        The job is cancelled: `job.progress()` raises from now on (a timed-out handler runs on).
        """
        job.cancelled.set()
        try:
            retry_in = Backoff.from_spec(job.opts["backoff"]).delay(job.attempts_made + 1) if "backoff" in job.opts else 0.0
        except Exception as exc:  # a record written by hand: no retry can be planned, and raising ended the thread
            reason = f"{reason} (failed for good: its option 'backoff' is unusable: {type(exc).__name__}: {exc})"
            retry, retry_in = False, 0.0
        return self.finish(job.id, job.token, "failed" if retry else "dead", reason, retry_in=retry_in,
                           duration=seconds, name=job.name)

    def no_handler(self, job: ActiveJob, known: str) -> tuple[Outcome, str]:
        """No handler for the job's name: a failed attempt, as in Bull."""
        reason = f"no handler for job name {job.name!r} (registered: {known})"
        return self.fail(job, reason), reason

    def release(self, job: ActiveJob) -> Outcome:
        """Hand a claimed job back unrun, first in line, not counted as a failure (jq_release.lua)."""
        return Outcome(int(self._run("release", job.id, job.token)[0]))

    def extend_lease(self, jobs: Iterable[ActiveJob]) -> int:
        """Heartbeat: push forward the leases of the jobs still ours (extend.lua)."""
        return self.extend_leases((job.id, job.token) for job in jobs)

    def recover(self) -> tuple[int, float | None]:
        """Take back stalled jobs (jq_stalled.lua): how many, and the earliest lease deadline still running."""
        found, deadline = self.check_stalled_and_next()  # type: ignore[attr-defined]
        return found["requeued"] + found["failed"], deadline
