"""Worker threads of a `JobQueue` (Bull's `queue.process(name, concurrency, handler)`).

Each thread loops on one round trip, jq_claim.lua (one job, or nothing when the queue is paused or
rate limited), and when there is nothing to do blocks in BRPOP on the queue's `marker` list (pushed
by every ready job, retry and resume, and by a delayed job due before all others) for at most one
poll, so pause takes effect within one poll and an idle worker sleeps in Redis. The claim reports
the next due time of the delayed jobs: the BRPOP ends HZ_SLACK before it (Redis fires blocking
timeouts only hz = 10 times a second), and the last stretch is waited in Python in short steps,
claiming between them. A finished job is one jq_finish.lua call. A heartbeat thread extends the
leases of the jobs in hand (ZADD XX) and takes back stalled jobs (jq_stalled.lua) every lease/3,
or sooner at the earliest lease deadline, so a dead worker's job is back right at its deadline. Python
cannot kill a thread: a job past its `timeout` is failed and its handler abandoned (`job.cancelled`
is set, and `job.progress()` then raises, so a cooperative handler stops). When Redis goes away a
thread or the heartbeat logs "lost connection to Redis ... retrying in X s" and waits until PING
answers ("reconnected"), as labqueue.Worker does (labqueue.threads).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import _running
from .checks import integer, number
from .connection import refused
from .jobspec import JobRecord
from .retry import Backoff
from .scripts import Outcome
from .threads import LOST_REDIS, Threads, call_with_timeout, redis_wait

if TYPE_CHECKING:
    from .jobqueue import JobQueue

log = logging.getLogger("labqueue.jobworker")
KIND = {Outcome.COMPLETED: "completed", Outcome.RETRIED: "retried", Outcome.DEAD: "failed"}  # stats counter


class JobCancelled(Exception):
    """Raised by `job.progress()` once the job timed out or was taken back from this worker."""


class ActiveJob:
    """A job in a handler's hands, as Bull's `job`: `job.data`, `job.attempts_made`, `job.progress(n)`."""

    def __init__(self, queue: JobQueue, record: JobRecord, token: int, processed_on: float = 0.0) -> None:
        self.queue = queue
        self.record = record
        self.id, self.name, self.data, self.opts = record.id, record.name, record.data, record.opts
        self.attempts_made = record.attempts_made  # failed attempts before this one
        self.timestamp = record.timestamp
        self.token = token  # this delivery's number: finish and progress must show it
        self.processed_on = processed_on  # when it was delivered (the server's clock, as the limiter's)
        self.cancelled = threading.Event()
        self.last_progress: float = 0

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


class QueueWorker(Threads):
    """Threads that run the handlers of one JobQueue; `stop()` lets them finish the job in hand."""

    def __init__(self, queue: JobQueue, handlers: Mapping[str, Callable[[ActiveJob], Any]], *,
                 poll_seconds: float = 0.5, name: str | None = None, heartbeat: bool = True) -> None:
        number("poll_seconds", poll_seconds, above=True, high=threading.TIMEOUT_MAX)  # > 0: never spins
        super().__init__(name or f"jq-worker-{id(self) % 10000:04d}", log)
        self.queue = queue
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self._held: dict[str, ActiveJob] = {}
        self._threads: list[threading.Thread] = []
        self._beat: threading.Thread | None = None
        self._heartbeat = heartbeat

    def add_threads(self, n: int) -> None:
        """Start `n` more worker threads (and the heartbeat with the first)."""
        integer("concurrency", n, low=1)
        for _ in range(n):
            t = threading.Thread(target=self._run, name=f"{self.name}-{len(self._threads)}", daemon=True)
            self._threads.append(t)
            t.start()
        if len(self._threads) == n:  # the first threads of this worker
            _running.started(self, lambda: self.stop(timeout=10))
        if self._heartbeat and self._beat is None:
            self._beat = threading.Thread(target=self._beat_loop, name=f"{self.name}-heartbeat", daemon=True)
            self._beat.start()

    @property
    def concurrency(self) -> int:
        return len(self._threads)

    def held(self) -> list[str]:
        """Ids of the jobs in hand right now."""
        with self._lock:
            return list(self._held)

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop taking jobs, finish the ones in hand, join every thread."""
        self._stopping.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in [*self._threads, *([self._beat] if self._beat else [])]:
            _running.join(t, None if deadline is None else max(0.0, deadline - time.monotonic()))

    # -- inside the threads --------------------------------------------------------------------
    def _run(self) -> None:
        q = self.queue
        while not self._stopping.is_set():
            try:
                jobs, next_due, limited_for, server_now = q.claim(1)
                if jobs:
                    self._handle(*jobs[0], processed_on=server_now)
                    continue
                if limited_for > 0:
                    self._stopping.wait(min(limited_for, self.poll_seconds))
                    continue
                wait = redis_wait(next_due, self.poll_seconds, self._stopping)
                if wait is None:
                    continue  # a job is due within Redis's timer resolution: claim again
                q.redis.brpop(q.keys.marker, timeout=wait)
            except LOST_REDIS as exc:  # Redis away: wait until it answers again (logged), then go on
                if not self._reconnect(exc, "thread", self._stopping.is_set):
                    return
            except Exception as exc:  # never silent, never a dead thread: log, count, back off one poll
                if refused(exc):  # wrong password, no permission: retrying cannot help
                    self._refuse(exc)
                    return
                log.exception("%s: unexpected error; retrying in one poll", self.name)
                with self._lock:
                    self.stats["errors"] += 1
                self._stopping.wait(self.poll_seconds)

    def _handle(self, job_id: str, raw: str, token: int, made: int, processed_on: float) -> None:
        q = self.queue
        record = JobRecord.parse(job_id, raw, state="active", attempts_made=made)
        job = ActiveJob(q, record, token, processed_on)
        with self._lock:
            self._held[job_id] = job
        try:
            if "repeat" in job.opts:
                try:
                    q.add_next_occurrence(record, processed_on)  # before running it: a crash cannot end the schedule
                except (ValueError, TypeError, KeyError) as exc:  # a schedule that cannot go on (never fires)
                    reason = f"repeat schedule cannot continue: {exc}"
                    log.error("%s: job %s: %s", self.name, job_id, reason)
                    code = q.finish(job_id, token, "failed", reason, name=job.name)
                    with self._lock:
                        self.stats[KIND.get(code, "lost")] += 1
                    return
            start = time.monotonic()
            outcome, payload = self._call(job)
            duration = time.monotonic() - start
            retry_in = 0.0
            if outcome == "failed" and "backoff" in job.opts:
                retry_in = Backoff.from_spec(job.opts["backoff"]).delay(made + 1)
            code = q.finish(job_id, token, outcome, payload, retry_in=retry_in, duration=duration,
                            name=job.name)
            kind = KIND.get(code, "lost")
            with self._lock:
                self.stats[kind] += 1
        finally:
            with self._lock:
                self._held.pop(job_id, None)

    def _call(self, job: ActiveJob) -> tuple[str, str]:
        """Run the handler (in a helper thread when the job has a timeout): (outcome, payload)."""
        handler = self.handlers.get(job.name) or self.handlers.get("*")
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            return "failed", f"no handler for job name {job.name!r} (registered: {known})"
        timeout = job.opts.get("timeout")
        finished, result, exc = call_with_timeout(handler, job, timeout, f"{self.name}-job-{job.id}")
        if not finished:
            job.cancelled.set()
            return "failed", f"TimeoutError: job exceeded its timeout of {timeout:g} s"
        if exc is not None:  # the job's failure, never the worker's
            return "failed", f"{type(exc).__name__}: {exc}"
        try:
            return "completed", json.dumps(result, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            return "failed", f"return value is not JSON-serialisable: {exc}"

    def _beat_loop(self) -> None:
        """Every lease/3 s, or at the earliest lease deadline if sooner: extend our leases, take back stalled jobs."""
        q = self.queue
        period = q.lease_seconds / 3
        while any(t.is_alive() for t in self._threads):
            wait = period
            try:
                with self._lock:
                    held = [(job.id, job.token) for job in self._held.values()]
                if held:
                    q.extend_leases(held)
                found, deadline = q.check_stalled_and_next()
                with self._lock:
                    self.stats["stalled_found"] += found["requeued"] + found["failed"]
                if deadline is not None:  # a dead worker's lease: look again right after it expires
                    wait = min(period, max(deadline - time.time() + 0.002, 0.005))
            except LOST_REDIS as exc:
                self._reconnect(exc, "heartbeat", lambda: not any(t.is_alive() for t in self._threads))
                continue
            except Exception as exc:
                if refused(exc):
                    self._refuse(exc)
                    return
                log.exception("%s heartbeat failed; retrying", self.name)
            if self._stopping.is_set():
                time.sleep(0.05)  # threads are finishing their jobs: keep their leases alive
            else:
                self._stopping.wait(wait)
