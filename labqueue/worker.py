"""Threaded workers for every queue kind: handlers chosen by job type, graceful stop, burst mode, per-job timeout.

A Worker drives one small interface every queue kind gives it (SimpleQueue and its kin,
ReliableQueue, JobQueue through labqueue.jobdelivery): `take(count, ack, wait, stop, burst)` acks
the finished jobs it is handed and claims up to `count` more in one round trip (claim.lua,
jq_claim.lua; one BRPOP on a simple queue), blocking in Redis (BLMOVE, BRPOP) when there is none,
so an idle worker sleeps in Redis instead of spinning; `complete` (None: acked with the next take),
`fail`, `no_handler`, `release`, and on queues with leases (`lease_seconds`) `extend_lease` and
`recover`, which a heartbeat thread calls to keep the jobs in hand and take back dead workers'.

When Redis goes away (ConnectionError, TimeoutError; on a cluster also a failover under way:
CLUSTERDOWN, TRYAGAIN, a slot not covered) a thread or the heartbeat logs "lost
connection to Redis ... retrying in X s", waits with exponential backoff until PING answers, logs
"reconnected" and carries on; acks it could not send are kept and sent then. Stopped while Redis
is away, a thread still retries the acks of its finished jobs until their leases would run out,
then gives up, logged (the jobs run again: at least once). A WRONGTYPE error
(a queue key overwritten with another Redis type) moves the bad key aside (labqueue.quarantine).

`checkpoint(point, job)` is the hook the lab's crash injection uses (labqueue.lab.crashing): called
before each handler runs and after it succeeded (before the ack), it may raise Killed to end the
thread there as a killed process would: nothing acked, nothing nacked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from . import _running
from .checks import integer, number
from .connection import refused
from .job import Job
from .quarantine import is_wrong_type, quarantine_wrong_types
from .scripts import Outcome
from .threads import LOST_REDIS, Threads, call_with_timeout

log = logging.getLogger("labqueue.worker")
Handler = Callable[[Job], Any]
KIND = {Outcome.COMPLETED: "succeeded", Outcome.RETRIED: "retried", Outcome.DEAD: "dead",
        Outcome.NOT_OURS: "lease_lost"}  # how a delivery ended -> the event (and stats counter)

@dataclass(frozen=True)
class WorkerEvent:
    """Something a worker did: started, succeeded, retried, dead, crashed, lease_lost."""

    kind: str
    job_id: str
    job_type: str
    worker: str
    thread: int
    at: float = field(default_factory=time.time)
    error: str | None = None

class Killed(Exception):
    """Raised by a `checkpoint` hook: the thread dies mid-job, as a killed process would."""


class Worker(Threads):
    """`Worker(queue, {"send_email": handler}, concurrency=4).start()`; `stop()` finishes jobs in hand."""

    def __init__(self, queue: Any, handlers: Mapping[str, Handler], *, concurrency: int = 1,
                 name: str | None = None, poll_seconds: float = 1.0, prefetch: int = 1,
                 burst: bool = False, on_event: Callable[[WorkerEvent], None] | None = None,
                 recover: bool = True, job_timeout: float | None = None) -> None:
        integer("concurrency", concurrency, low=1)
        integer("prefetch", prefetch, low=1, high=1000)
        number("poll_seconds", poll_seconds, above=True, high=threading.TIMEOUT_MAX)  # > 0: never spins
        if job_timeout is not None:
            number("job_timeout", job_timeout, above=True, high=threading.TIMEOUT_MAX)  # what join() takes
        super().__init__(name or f"worker-{id(self) % 10000:04d}", log)
        self.queue = queue
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.prefetch = prefetch
        self.burst = burst
        self.on_event = on_event
        self.recover = recover
        self.job_timeout = None if job_timeout is None else float(job_timeout)
        self._held: dict[int, dict[int, Job]] = {}  # thread -> id(job) -> jobs claimed, not yet acked/nacked
        self._pending: dict[int, list[Job]] = {}  # thread -> jobs of its batch not run yet (survive a reconnect)
        self._running = 0  # worker threads not yet ended
        self._wake = threading.Event()  # wakes the heartbeat: stop(), or the last thread ended
        self._unacked: dict[int, list[Job]] = {}  # thread -> jobs done but not acked yet
        self._threads: list[threading.Thread] = []
        self._heartbeat: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------
    def start(self) -> Worker:
        """Start the worker threads (and the heartbeat on a queue with leases).

        Announced (labqueue._running) before any thread starts: a KeyboardInterrupt landing while the
        threads start (a notebook cell interrupted) still stops them, none runs on unowned.
        """
        self._stopping.clear()
        self._wake.clear()
        _running.started(self, lambda: self.stop(timeout=10))
        self.add_threads(self.concurrency, counted=False)
        if getattr(self.queue, "lease_seconds", None):
            self._heartbeat = threading.Thread(target=self._beat, name=f"{self.name}-heartbeat", daemon=True)
            self._heartbeat.start()
        return self

    def add_threads(self, n: int, counted: bool = True) -> None:
        """Start `n` more worker threads (JobQueue.process() called again). A stopped worker takes
        none: its threads would end at once, taking no job (RuntimeError; start() it again first)."""
        integer("concurrency", n, low=1)
        if self._stopping.is_set():
            raise RuntimeError(f"{self.name} is stopped: its new threads would end at once; "
                               "start() it again before adding threads")
        with self._lock:
            self._running += n
            self.concurrency += n if counted else 0
        for _ in range(n):
            i = len(self._threads)
            t = threading.Thread(target=self._run, args=(i,), name=f"{self.name}-{i}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, wait: bool = True, timeout: float | None = None) -> list[str]:
        """Stop taking jobs; finish (and ack) the ones in hand; with `wait`, join the threads.

        Returns the names of the threads still running after `timeout` (logged as a warning): a
        handler that does not return keeps its thread; its job comes back through its lease once
        the heartbeat stops (set `job_timeout` to have such jobs failed and their slots freed).
        """
        self._stopping.set()
        self._wake.set()
        if not wait:
            return []
        still = self.join(timeout)
        if still:
            log.warning("%s: %d thread(s) did not stop within %s s: %s (a handler that does not return)",
                        self.name, len(still), timeout, ", ".join(still))
        return still

    def join(self, timeout: float | None = None) -> list[str]:
        """Wait for every thread of this worker to end; returns the names of those still running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        threads = [*self._threads, *([self._heartbeat] if self._heartbeat else [])]
        for t in threads:
            _running.join(t, None if deadline is None else max(0.0, deadline - time.monotonic()))
        return [t.name for t in threads if t.is_alive()]

    def run(self) -> Worker:
        """Start and wait until the worker ends (use with burst=True, or stop() from elsewhere). Interrupted while
        it waits (Ctrl-C), it stops first, as stop() does: no thread of it runs on once run() has raised."""
        self.start()
        try:
            self.join()
        except BaseException:
            self.stop(timeout=10)
            raise
        return self

    @property
    def stopped(self) -> bool:
        """stop() was called, or the worker stopped itself (Redis refused it); start() runs it again."""
        return self._stopping.is_set()

    @property
    def alive(self) -> int:
        """Worker threads still running."""
        return sum(t.is_alive() for t in self._threads)

    def held(self) -> list[str]:
        """Ids of the jobs in hand right now (claimed, not yet acked or nacked)."""
        return [job.id for job in self._held_jobs()]

    def _held_jobs(self) -> list[Job]:
        with self._lock:
            return [job for jobs in self._held.values() for job in jobs.values()]

    def _hold(self, thread: int, jobs: list[Job]) -> None:
        with self._lock:
            self._held.setdefault(thread, {}).update((id(job), job) for job in jobs)

    def _unhold(self, thread: int, jobs: list[Job]) -> None:
        with self._lock:
            held = self._held.get(thread, {})
            for job in jobs:
                held.pop(id(job), None)

    # -- inside the threads --------------------------------------------------------------------
    def _emit(self, kind: str, job: Job, thread: int, error: str | None = None) -> None:
        """Count an event and tell `on_event`, an observer: its exception is logged, never the job's or
        the thread's (raised here, it skipped the ack or nack of a job and ended the thread)."""
        with self._lock:
            self.stats[kind] += 1
        if self.on_event is not None:
            try:
                self.on_event(WorkerEvent(kind, job.id, job.type, self.name, thread, error=error))
            except Exception:
                log.exception("%s thread %d: on_event raised on %r of job %s; the worker goes on",
                              self.name, thread, kind, job.id)

    def checkpoint(self, point: str, job: Job) -> None:
        """Hook: called at 'before' (the handler runs next) and 'after' (it succeeded, not acked yet).

        Does nothing here; raising Killed ends the thread at that point (labqueue.lab.crashing).
        """

    def _handle(self, job: Job, thread: int) -> bool:
        """Run one job; True when it succeeded and its ack goes with the next take. Killed (from the hook)
        ends the thread. A job's own `timeout` (JobQueue's option) wins over the worker's job_timeout."""
        try:
            self._emit("started", job, thread)
            self.checkpoint("before", job)
            handler = self.handlers.get(job.type) or self.handlers.get("*")
            if handler is None:
                code, reason = self.queue.no_handler(job, ", ".join(sorted(self.handlers)) or "none")
                self._emit(KIND.get(code, "retried"), job, thread, reason)
                return False
            own = getattr(job, "timeout", None)
            timeout = own or self.job_timeout
            start = time.monotonic()
            finished, result, exc = call_with_timeout(handler, job, timeout,
                                                      f"{self.name}-{thread}-job" if timeout else "")
            seconds = time.monotonic() - start
            if not finished:  # abandoned: it runs on in its helper thread, its slot and lease are freed
                with self._lock:
                    self.stats["timed_out"] += 1
                exc = TimeoutError(f"job exceeded its timeout of {timeout:g} s" if own else
                                   f"job timed out: its handler was still running after job_timeout={timeout:g} s "
                                   "(abandoned; Python cannot stop a thread)")
            if exc is not None and not isinstance(exc, Exception):
                raise exc  # KeyboardInterrupt, SystemExit: not the job's failure
            if exc is not None:  # a handler failure is the job's, never the worker's
                reason = f"{type(exc).__name__}: {exc}"
                self._emit(KIND.get(self.queue.fail(job, reason, seconds=seconds), "retried"), job, thread, reason)
                return False
            self.checkpoint("after", job)
            code = self.queue.complete(job, result, seconds)  # None: acked with the next take (a batch)
            self._emit("succeeded" if code is None else KIND.get(code, "retried"), job, thread)
            return code is None
        except Killed:
            raise
        except BaseException:
            self._unhold(thread, [job])
            raise

    def _run(self, thread: int) -> None:
        try:
            self._run_until_done(thread)
        finally:
            with self._lock:  # whatever ended the thread, nobody heartbeats its jobs any more:
                self._held.pop(thread, None)  # their leases expire and recovery re-queues them
                self._pending.pop(thread, None)
                self._running -= 1
                last = self._running == 0
            if last:
                self._wake.set()

    def _run_until_done(self, thread: int) -> None:
        while True:
            try:
                self._work(thread)
                return
            except Killed:
                self._unacked.pop(thread, None)  # a dead process's acks die with it
                with self._lock:
                    self.stats["crashed"] += 1
                if self.on_event is not None:
                    self.on_event(WorkerEvent("crashed", "", "", self.name, thread))
                return
            except LOST_REDIS as exc:
                if not self._reconnect(exc, f"thread {thread}", self._stopping.is_set):
                    self._last_acks(thread)  # stopped while Redis was away: acks of finished jobs, bounded
                    return  # the jobs in hand not run come back through their leases
            except redis.ResponseError as exc:
                if refused(exc):  # NOPERM: retrying cannot help
                    self._refuse(exc)
                    return
                if not is_wrong_type(exc):
                    log.exception("%s thread %d stopped on an unexpected error", self.name, thread)
                    with self._lock:
                        self.stats["errors"] += 1
                    return
                self._quarantine(exc, f"thread {thread}")
            except Exception:  # never silent: a worker thread that dies says why in the log
                log.exception("%s thread %d stopped on an unexpected error", self.name, thread)
                with self._lock:
                    self.stats["errors"] += 1
                return

    def _last_acks(self, thread: int) -> None:
        """Stopped while Redis was away, with finished jobs not acked: retry their ack (backoff) until Redis
        answers or their leases would have run out (then recovery hands them out again whatever we do),
        and give up then, logged: they run again (at least once), never lost."""
        done = self._unacked.get(thread)
        if not done or self.fatal is not None:
            return
        deadline = time.monotonic() + self.queue.lease_seconds
        delay = 0.05
        while True:
            try:
                self.queue.ack(*done)
            except LOST_REDIS as exc:
                if not refused(exc) and time.monotonic() + delay < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                log.warning("%s thread %d: stopped while Redis was away; %d finished job(s) not acked "
                            "(%s: %s): they will run again when their leases run out",
                            self.name, thread, len(done), type(exc).__name__, exc)
                return
            log.info("%s thread %d: acked %d finished job(s) after Redis came back, while stopping",
                        self.name, thread, len(done))
            self._unhold(thread, done)
            done.clear()
            return

    def _refuse(self, exc: BaseException) -> None:
        super()._refuse(exc)
        self._wake.set()  # the heartbeat too

    def _quarantine(self, exc: Exception, where: str) -> None:
        """After WRONGTYPE: move the queue's wrongly typed keys aside (labqueue.quarantine), or wait."""
        try:
            moved = quarantine_wrong_types(self.queue)
        except redis.RedisError as again:
            moved, exc = [], again
        if moved:
            log.error("%s %s: %s; moved aside (see the dead-letter queue): %s",
                      self.name, where, exc, ", ".join(moved))
        else:  # another worker moved it, or the key is not ours: do not spin
            log.error("%s %s: %s; no key of queue %r to move aside, retrying in %.1f s",
                      self.name, where, exc, self.queue.name, self.poll_seconds)
            self._stopping.wait(self.poll_seconds)

    def _work(self, thread: int) -> None:
        queue = self.queue
        done = self._unacked.setdefault(thread, [])  # survives a reconnect: sent with the next take
        pending = self._pending.setdefault(thread, [])  # the batch's jobs not run yet: also survive it
        for job in list(pending):  # back after an outage: a job whose lease was taken back meanwhile
            if not queue.extend_lease([job]):  # is another worker's now: run it again? never
                pending.remove(job)
                self._unhold(thread, [job])
                self._emit("lease_lost", job, thread)
        while not self._stopping.is_set():
            if not pending:
                self._unhold(thread, done)  # finished: acked by this take (kept in `done` until it is)
                jobs = queue.take(self.prefetch, done, self.poll_seconds, self._stopping, self.burst)
                done.clear()
                if jobs is None:  # burst: nothing waiting, nothing due
                    return
                self._hold(thread, jobs)
                pending.extend(jobs)
            while pending:  # a Redis error below leaves the rest pending: run after reconnecting
                job = pending.pop(0)
                if self._handle(job, thread):  # raises Killed: nothing below runs, nothing acked
                    done.append(job)
                else:
                    self._unhold(thread, [job])  # nacked or finished: no longer ours
                if self._stopping.is_set():  # the job in hand is done: hand the rest back unrun, last
                    while pending:  # first, so that they stand in line in their order again
                        queue.release(pending[-1])
                        self._unhold(thread, [pending.pop()])
        if done:
            queue.ack(*done)
            self._unhold(thread, done)
            done.clear()

    def _beat(self) -> None:
        """Extend the leases of jobs in hand every lease/3 s; take back dead workers' jobs (recover()).

        Recovery also runs when the earliest lease in Redis expires, so a dead worker's job comes
        back at its deadline rather than up to lease/3 later.
        """
        queue = self.queue
        period = queue.lease_seconds / 3
        while self._running > 0 and self.fatal is None:
            held = self._held_jobs()
            wait = period
            try:
                if held:
                    queue.extend_lease(held)
                if self.recover:
                    found, deadline = queue.recover()
                    with self._lock:
                        self.stats["recovered"] += found
                    if deadline is not None:
                        wait = min(period, max(deadline - time.time() + 0.002, 0.005))
            except LOST_REDIS as exc:
                self._reconnect(exc, "heartbeat", lambda: self._running == 0)
                continue
            except redis.ResponseError as exc:
                if refused(exc):
                    self._refuse(exc)
                elif is_wrong_type(exc):
                    self._quarantine(exc, "heartbeat")
                else:
                    log.exception("%s heartbeat failed; retrying", self.name)
            except Exception:
                log.exception("%s heartbeat failed; retrying", self.name)
            if self._stopping.is_set():
                time.sleep(min(period, 0.05))  # threads are finishing their jobs: keep beating
            else:
                self._wake.wait(wait)
