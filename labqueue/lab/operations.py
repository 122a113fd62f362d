"""Notebook 09 helpers for the rest of the chapter's checklist, live: a worker crash on each kind of
queue, the production queue's rate limit and job timeout, and workers auto-scaled from the queue depth.

Redis structures: each queue's own keys (a PriorityQueue's `priority` zset, a DelayedQueue's `delayed`
zset and `waiting` list, a ReliableQueue's `waiting`/`processing` lists and `leases` zset, a JobQueue's
`lq:{name}:jq:*` keys and its limiter zset), read with LLEN / ZCARD and the queues' count methods.
Every helper joins the threads it starts before it returns (or in `stop()`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..delayed import DelayedQueue
from ..jobqueue import JobQueue
from ..priority import PriorityQueue
from ..reliable import ReliableQueue
from ..worker import Worker
from .crashing import CrashingWorker
from .experiments import ExecutionLog, Producer, WorkerPool, drained, tally, wait_for
from .frames import labelled
from .i18n import N_, _, number, translate
from .live import Sampler

__all__ = ["AutoScaler", "RateLimitRun", "autoscale_run", "crash_each", "max_in_window", "wait_settled"]

DEQUEUE = {PriorityQueue: N_("BZPOPMIN (the job leaves Redis)"), DelayedQueue: N_("BRPOP of the ready list"),
           ReliableQueue: N_("BLMOVE + lease until ack"), JobQueue: N_("jq_claim.lua: lease until finish")}
OTHER_DEQUEUE = N_("BRPOP (the job leaves Redis)")


def _how(q: Any) -> str:
    """How a worker takes a job from `q`, in the lab's language (a cell of crash_each's table)."""
    return translate(next((text for kind, text in DEQUEUE.items() if isinstance(q, kind)), OTHER_DEQUEUE))


def _crash_list_queue(label: str, q: Any, jobs: int, timeout: float) -> dict[str, Any]:
    """Worker w1 takes the first job and dies mid-job; worker w2 then runs until the queue is drained."""
    log = ExecutionLog(work_seconds=0.005)
    q.clear()
    data = [{"i": i} for i in range(jobs)]
    if isinstance(q, PriorityQueue):
        ids = [q.enqueue(d, priority=5, type="work", job_id=f"{label}-{i}") for i, d in enumerate(data)]
    elif isinstance(q, DelayedQueue):
        ids = [q.enqueue(d, delay_seconds=0.01, type="work", job_id=f"{label}-{i}") for i, d in enumerate(data)]
        time.sleep(0.02)
        q.tick()  # one scheduler pass: the due jobs move to the ready list
    else:
        ids = [q.enqueue(d, type="work", job_id=f"{label}-{i}") for i, d in enumerate(data)]
    w1 = CrashingWorker(q, {"work": log.handler}, name="w1", burst=True, poll_seconds=0.05, on_event=log.on_event)
    w1.crash()
    w1.run()
    w2 = Worker(q, {"work": log.handler}, name="w2", poll_seconds=0.05, on_event=log.on_event).start()
    try:
        wait_for(lambda: drained(q) and not w2.held(), timeout)
    finally:
        w2.stop()
    t = tally(q, ids, log)
    return {"queue": label, "a worker takes a job with": _how(q), "jobs": jobs, "crashed mid-job": t.crashed,
            "processed": t.processed, "lost": t.lost, "still in Redis": t.pending + t.dead}


def _crash_job_queue(label: str, q: JobQueue, jobs: int, timeout: float) -> dict[str, Any]:
    """A worker claims the first job and dies (no finish); live workers' heartbeat takes it back."""
    log = ExecutionLog(work_seconds=0.005)
    q.obliterate()
    ids = [q.add("work", {"i": i}, job_id=f"{label}-{i}") for i in range(jobs)]
    taken, *_ = q.claim(1)  # a worker took the first job... and died before finishing it
    q.process("work", log.handler, concurrency=1, poll_seconds=0.05)
    try:
        wait_for(lambda: all(log.completed()[i] for i in ids), timeout)
    finally:
        q.close()
    done = log.completed()
    counts = q.get_job_counts()
    held = counts["waiting"] + counts["active"] + counts["delayed"] + counts["failed"] + counts["paused"]
    processed = sum(1 for i in ids if done[i])
    return {"queue": label, "a worker takes a job with": _how(q), "jobs": jobs, "crashed mid-job": len(taken),
            "processed": processed, "lost": jobs - processed - held, "still in Redis": held}


def crash_each(queues: Mapping[str, Any], jobs: int = 4, timeout: float = 8.0) -> Any:
    """For each queue, a worker dies holding the first job; another one then works until the queue is
    drained. One row per queue (pandas): how a job is taken, crashed, processed, lost.

    The columns keep their English names for code (`table["lost"]`); in French they are shown translated."""
    import pandas as pd

    rows = [(_crash_job_queue if isinstance(q, JobQueue) else _crash_list_queue)(label, q, jobs, timeout)
            for label, q in queues.items()]
    table = pd.DataFrame(rows).set_index("queue")
    shown = {"a worker takes a job with": _("a worker takes a job with"), "jobs": _("jobs"),
             "crashed mid-job": _("crashed mid-job"), "processed": _("processed"), "lost": _("lost"),
             "still in Redis": _("still in Redis")}
    return labelled(table, columns=shown, names={"queue": _("queue")})


# -- rate limiting --------------------------------------------------------------------------------


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any window (t, t + window) of the given length (a sliding count)."""
    times = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < start + window - 1e-5:  # server times rounded to 1 µs
            j += 1
        best = max(best, j - i)
    return best


class RateLimitRun:
    """`jobs` quick jobs through a JobQueue's `limiter` with `workers` threads, sampled live.

    Records each delivery's server time (`job.processed_on`, the limiter's own clock).
    """

    def __init__(self, q: JobQueue, *, jobs: int = 40, workers: int = 4, work_seconds: float = 0.002,
                 live: bool = True) -> None:
        self.q, self.jobs, self.workers, self.work_seconds = q, jobs, workers, work_seconds
        self.starts: list[float] = []
        self._lock = threading.Lock()
        # probe names stay English (code reads them); the chart translates them
        self.sampler = Sampler({N_("waiting"): lambda: q.get_job_counts()["waiting"],
                                N_("started"): lambda: len(self.starts)},
                               rates={N_("deliveries / s"): "started"}, interval=0.05, live=live,
                               title=_("limiter: at most {max} jobs per {window} s, {workers} worker threads").format(
                                   max=q.rate_max, window=number(q.rate_window, "g"), workers=workers))
        self.seconds = 0.0

    def _handle(self, job: Any) -> None:
        with self._lock:
            self.starts.append(job.processed_on)
        time.sleep(self.work_seconds)

    def run(self, timeout: float = 15.0) -> RateLimitRun:
        """Add the jobs (one round trip), process them, wait until every one has started."""
        self.sampler.start()
        t0 = time.monotonic()
        self.q.add_bulk([("call-api", {"n": i}) for i in range(self.jobs)])
        self.q.process("call-api", self._handle, concurrency=self.workers, poll_seconds=0.05)
        try:
            wait_for(lambda: len(self.starts) >= self.jobs, timeout)
            wait_for(lambda: self.q.get_job_counts()["active"] == 0, timeout)
        finally:
            self.q.close()
            self.seconds = time.monotonic() - t0
            self.sampler.stop()
        return self

    def busiest_window(self) -> int:
        """The most deliveries in any window of the limiter's duration."""
        return max_in_window(self.starts, self.q.rate_window)


# -- job timeout ----------------------------------------------------------------------------------


def wait_settled(q: JobQueue, timeout: float = 10.0) -> dict[str, int]:
    """Wait until nothing is waiting, active or delayed (a retry to come); returns the counts."""
    def settled() -> bool:
        c = q.get_job_counts()
        return c["waiting"] == c["active"] == c["delayed"] == 0
    wait_for(settled, timeout)
    return q.get_job_counts()


# -- auto-scaling ---------------------------------------------------------------------------------


class AutoScaler:
    """Workers added and removed from the queue depth: ceil(depth / per_worker), within [low, high].

    A thread reads the depth (LLEN) every `interval` seconds and resizes a WorkerPool; a worker
    removed finishes the job in hand first (Worker.stop). `history` keeps (t, depth, workers).
    """

    def __init__(self, q: Any, handler: Callable[[Any], Any], *, per_worker: int = 10, low: int = 1,
                 high: int = 6, interval: float = 0.1) -> None:
        if not 1 <= low <= high:
            raise ValueError(f"need 1 <= low <= high workers, got low={low!r} high={high!r}")
        self.q, self.per_worker, self.low, self.high, self.interval = q, per_worker, low, high, interval
        self.pool = WorkerPool(q, {"work": handler}, workers=low, poll_seconds=0.05)
        self.history: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autoscaler", daemon=True)
        self.t0 = 0.0

    def target(self, depth: int) -> int:
        """How many workers for this depth."""
        return min(self.high, max(self.low, math.ceil(depth / self.per_worker)))

    def start(self) -> AutoScaler:
        self.t0 = time.time()
        self.pool.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            depth = self.q.size()
            want = self.target(depth)
            if want != self.pool.size:
                self.pool.resize(want)
            self.history.append((time.time() - self.t0, depth, want))

    @property
    def workers(self) -> int:
        return self.pool.size

    def stop(self) -> None:
        """Stop scaling, then stop every worker (jobs in hand finish) and join all threads."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        self.pool.stop()


def autoscale_run(q: Any, *, jobs: int = 150, peak: float = 300.0, work_seconds: float = 0.02,
                  per_worker: int = 10, high: int = 6, live: bool = True, timeout: float = 15.0,
                  show: Callable[[Any], Any] | None = None) -> tuple[AutoScaler, Producer, ExecutionLog, Sampler]:
    """A burst of orders (peak rate between 0.3 s and 1.0 s, a tenth of it otherwise) on an auto-scaled
    pool, sampled live (depth and workers); returns when the queue is drained, all threads joined."""
    log = ExecutionLog(work_seconds=work_seconds)
    scaler = AutoScaler(q, log.handler, per_worker=per_worker, high=high)
    producer = Producer(q, jobs, lambda t: peak if 0.3 <= t < 1.0 else peak / 10, prefix="order")
    sampler = Sampler({N_("waiting"): q.size, N_("workers"): lambda: scaler.workers}, interval=0.05, live=live,
                      title=_("auto-scaling: ceil(depth / {per_worker}) workers, 1 to {high}").format(
                          per_worker=per_worker, high=high),
                      ylabel=_("jobs, workers"))
    if show is not None and sampler.widget is not None:
        show(sampler.widget)  # e.g. IPython's display: the chart updates while the run goes on
    sampler.start()
    scaler.start()
    producer.start()
    try:
        producer.join(timeout)
        wait_for(lambda: drained(q) and len(log.completed()) >= jobs, timeout)
        wait_for(lambda: scaler.workers == scaler.low, 2.0)  # the next reading scales back down
    finally:
        producer.stop()
        scaler.stop()
        sampler.stop()
    return scaler, producer, log, sampler

