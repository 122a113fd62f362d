"""One small adapter per queue: how the benchmark builds, fills, drains and breaks it.

A new pattern joins the benchmark by adding one `Pattern` to `patterns()`; the measurements in
`measure.py` only call these hooks. `Pattern` drives the core classes (`enqueue`, `enqueue_many`,
`Worker`); `JobQueuePattern` drives the production queue (`add`, `add_bulk`, `process`).
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..retry import Backoff
from ..worker import Worker

Make = Callable[[Any, str, float], Any]
Handler = Callable[[Any], Any]
Stop = Callable[[], None]


@dataclass(frozen=True)
class Pattern:
    """How to benchmark one queue class: build it, enqueue one / many, run a worker on it."""

    name: str
    make: Make  # (client, queue name, lease seconds) -> queue
    prefetch: int = 1  # jobs a worker thread claims per round trip
    leased: bool = False  # a killed worker's job comes back (lease + recovery)
    delayed: Callable[[Any, dict[str, Any], float], Any] | None = None  # (queue, data, delay s)
    scheduler: Callable[[Any], Callable[[], Any]] | None = None  # starts the promoter; returns stop
    worker: type = Worker  # the worker class run on it
    extras: bool = True  # also measure lateness and killed-worker re-delivery
    victim: str = "reliable"  # the worker kind `python -m labqueue.bench.victim` runs for the kill test

    def enqueue(self, queue: Any, data: dict[str, Any]) -> Any:
        """One job, one call (the pattern's `enqueue`)."""
        return queue.enqueue(data)

    def enqueue_bulk(self, queue: Any, batch: Sequence[dict[str, Any]]) -> Any:
        """Many jobs in one call (the pattern's `enqueue_many`)."""
        return queue.enqueue_many(batch)

    def waiting(self, queue: Any) -> int:
        """Jobs not yet taken by a worker."""
        return int(queue.size())

    def left(self, queue: Any) -> dict[str, int]:
        """Jobs still waiting, in flight or scheduled (all 0 once a measurement is over)."""
        return {"waiting": self.waiting(queue),
                "in flight": int(queue.processing_size()) if hasattr(queue, "processing_size") else 0,
                "delayed": int(queue.delayed_size()) if hasattr(queue, "delayed_size") else 0}

    def clear(self, queue: Any) -> None:
        """Delete every key of the queue."""
        queue.clear()

    def drain(self, queue: Any, handler: Handler, n: int, threads: int) -> None:
        """Run one worker (`threads` threads, this process) until the queue is empty (burst mode)."""
        self.worker(queue, {"default": handler}, concurrency=threads, prefetch=self.prefetch,
                    burst=True, poll_seconds=0.05, recover=False).run()

    def start(self, queue: Any, handler: Handler, poll_seconds: float = 0.5, recover: bool = False) -> Stop:
        """Start a one-thread worker that waits for jobs; returns its stop()."""
        return self.worker(queue, {"default": handler}, concurrency=1, prefetch=1, poll_seconds=poll_seconds,
                           recover=recover).start().stop  # type: ignore[no-any-return]

    def enqueue_retried(self, queue: Any, data: dict[str, Any], delay: float) -> Any:
        """A job whose failed attempt is retried `delay` s later (a fixed backoff on the queue)."""
        queue.backoff = Backoff.fixed(delay)
        return queue.enqueue(data)

    def run_at(self, job: Any) -> float:
        """When a delayed job was planned to start (unix s)."""
        return float(job.run_at)

    def enqueue_victim(self, queue: Any, job_id: str) -> str:
        """The job of the kill test, under a known id."""
        return str(queue.enqueue({"i": 0}, job_id=job_id))

    def lease_deadline(self, queue: Any, job_id: str) -> float | None:
        """Unix time the job's lease expires (from `leases()`, by the server's clock), None if it has none."""
        left = queue.leases().get(job_id)
        return None if left is None else time.time() + left

    def die_holding(self, queue: Any) -> tuple[float, str]:
        """Make a worker die holding the queue's one job, in this process; (when, how)."""
        crashed: list[float] = []
        from ..lab.crashing import CrashingWorker  # the lab's crash injection (no pandas, no widgets)

        victim = CrashingWorker(queue, {"default": lambda job: None}, concurrency=1, poll_seconds=0.05, burst=True,
                             recover=False,
                             on_event=lambda e: crashed.append(time.time()) if e.kind == "crashed" else None)
        victim.crash(1)
        victim.run()
        if not crashed:
            raise RuntimeError("the victim thread did not crash")
        return crashed[0], "worker thread died mid-job (fakeredis: one process)"


@dataclass(frozen=True)
class JobQueuePattern(Pattern):
    """The production queue (`labqueue.jobqueue.JobQueue`): Bull's add / add_bulk / process(name, ...).

    Every job is added as `("default", data)`; the queue's default job options remove finished
    jobs (as the BullMQ run does with removeOnComplete/removeOnFail), so those options are stored
    in every job, as BullMQ stores its opts. Its lateness is measured on delayed jobs (`delay`),
    which go through the same delayed set and worker wait as its retries.
    """

    victim: str = "jobqueue"

    def enqueue(self, queue: Any, data: dict[str, Any]) -> Any:
        return queue.add("default", data)

    def enqueue_bulk(self, queue: Any, batch: Sequence[dict[str, Any]]) -> Any:
        return queue.add_bulk([("default", data) for data in batch])

    def waiting(self, queue: Any) -> int:
        return int(queue.get_job_counts()["waiting"])

    def left(self, queue: Any) -> dict[str, int]:
        counts = queue.get_job_counts()
        return {"waiting": counts["waiting"] + counts["paused"], "in flight": counts["active"],
                "delayed": counts["delayed"]}

    def clear(self, queue: Any) -> None:
        queue.close()
        queue.obliterate()

    def drain(self, queue: Any, handler: Handler, n: int, threads: int) -> None:
        """`process("default", ..., concurrency=threads, prefetch)` until it has handled n jobs, then `close()`:
        each thread claims `prefetch` jobs a round trip and finishes them with its next claim."""
        done, seen, lock = threading.Event(), [0], threading.Lock()

        def counted(job: Any) -> None:
            handler(job)
            with lock:
                seen[0] += 1
                if seen[0] >= n:
                    done.set()

        queue.process("default", counted, concurrency=threads, poll_seconds=0.05, prefetch=self.prefetch)
        try:
            if not done.wait(60 + n / 100):
                raise RuntimeError(f"JobQueue handled {seen[0]} of {n} jobs")
        finally:
            queue.close()

    def start(self, queue: Any, handler: Handler, poll_seconds: float = 0.5, recover: bool = False) -> Stop:
        """`process("default", handler)` (its heartbeat always takes back stalled jobs); returns close()."""
        queue.process("default", handler, concurrency=1, poll_seconds=poll_seconds)
        return queue.close  # type: ignore[no-any-return]

    def run_at(self, job: Any) -> float:
        return float(job.data["at"])  # `delayed` below stores the planned time in the job's data

    def enqueue_victim(self, queue: Any, job_id: str) -> str:
        return str(queue.add("default", {"i": 0}, job_id=job_id))

    def lease_deadline(self, queue: Any, job_id: str) -> float | None:
        score = queue.redis.zscore(queue.keys.active, job_id)
        return None if score is None else float(score)

    def die_holding(self, queue: Any) -> tuple[float, str]:
        queue.claim(1)  # jq_claim.lua leases the job to a worker that never finishes it
        return time.time(), "job claimed by a worker that died before finishing it (fakeredis: one process)"


def _simple(client: Any, name: str, lease: float) -> Any:
    from ..simple import SimpleQueue
    return SimpleQueue(client, name)


def _reliable(client: Any, name: str, lease: float) -> Any:
    from ..reliable import ReliableQueue
    return ReliableQueue(client, name, lease_seconds=lease, backoff=Backoff.fixed(0.05))


def _jobqueue(client: Any, name: str, lease: float) -> Any:
    from ..jobqueue import JobQueue
    return JobQueue(client, name, lease_seconds=lease,
                    default_job_options={"remove_on_complete": True, "remove_on_fail": True})


def _jobqueue_delayed(queue: Any, data: dict[str, Any], delay: float) -> Any:
    return queue.add("default", {**data, "at": time.time() + delay}, delay=delay)


def _optional(module: str, cls: str) -> Make | None:
    """A maker for `labqueue.<module>.<cls>` when that module exists in this checkout."""
    try:
        klass = getattr(importlib.import_module(f"labqueue.{module}"), cls)
    except (ImportError, AttributeError):
        return None

    def make(client: Any, name: str, lease: float) -> Any:
        return klass(client, name)
    return make


def patterns(prefetch: int = 50) -> list[Pattern]:
    """Every pattern present in this checkout, in the order the lab teaches them."""
    found = [Pattern("simple", _simple),
             Pattern("reliable prefetch 1", _reliable, prefetch=1, leased=True),
             Pattern(f"reliable prefetch {prefetch}", _reliable, prefetch=prefetch, leased=True, extras=False)]
    priority = _optional("priority", "PriorityQueue")
    if priority is not None:
        found.append(Pattern("priority", priority))
    delayed = _optional("delayed", "DelayedQueue")
    if delayed is not None:
        found.append(Pattern("delayed", delayed,
                             delayed=lambda q, data, delay: q.enqueue(data, delay_seconds=delay),
                             scheduler=lambda q: q.start_scheduler().stop))
    found.append(JobQueuePattern("JobQueue (production)", _jobqueue, prefetch=prefetch, leased=True,
                                 delayed=_jobqueue_delayed))
    return found
