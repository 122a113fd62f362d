"""Crash injection for the notebooks: a Worker whose threads die mid-job on order or at random.

`CrashingWorker` is `labqueue.Worker` plus the lab's way to kill it: `crash(n)` makes the next n jobs
picked up kill their thread, `crash_probability` kills at random (reproducibly with `seed`), and
`crash_point` says where: "before" the handler runs (the job never done) or "after" it succeeded
and before the ack (done, never acked: it runs again, at-least-once). It only uses the hook the core
Worker exposes (`checkpoint`, raising `Killed`): the thread ends as a killed process would, nothing
acked and nothing nacked, and the queue's own recovery (or its lack) does the rest.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from ..checks import number
from ..job import Job
from ..worker import Killed, Worker

POINTS = ("before", "after")


class CrashingWorker(Worker):
    """`CrashingWorker(queue, handlers, crash_point="after", ...)`: a Worker you can kill (`crash()`)."""

    def __init__(self, queue: Any, handlers: Any, *, crash_probability: float = 0.0, crash_point: str = "before",
                 seed: int | None = None, **options: Any) -> None:
        number("crash_probability", crash_probability, high=1)
        if crash_point not in POINTS:
            raise ValueError("crash_point must be 'before' (job never done) or 'after' (done, not acked)")
        super().__init__(queue, handlers, **options)
        self.crash_probability = crash_probability
        self.crash_point = crash_point
        self._rng = random.Random(seed)
        self._orders = 0
        self._doomed = threading.local()  # per thread: the job it is to die on at 'after'

    def crash(self, jobs: int = 1) -> None:
        """Make the next `jobs` jobs picked up kill their thread mid-job, without ack or nack."""
        with self._lock:
            self._orders += jobs

    def _should_crash(self) -> bool:
        with self._lock:
            if self._orders > 0:
                self._orders -= 1
                return True
            return self.crash_probability > 0 and self._rng.random() < self.crash_probability

    def checkpoint(self, point: str, job: Job) -> None:
        """Decide at 'before' whether this job kills its thread; die there, or at 'after' (done, not acked)."""
        if point == "before":
            self._doomed.job = job if self._should_crash() else None
            if self._doomed.job is not None and self.crash_point == "before":
                raise Killed
        elif getattr(self._doomed, "job", None) is job:
            self._doomed.job = None
            raise Killed


__all__ = ["CrashingWorker", "Killed"]
