"""The student's queue through the lab's own harness: labqueue Workers, crash injection, the tally.

`StudentQueue` shows a student's queue to `labqueue.Worker` (which only needs dequeue / ack / nack
on a queue that is not a ReliableQueue) and to `experiments.tally` (which reads the keys named in
`keys`): the same workers, the same `crash()` and the same count of lost jobs as the lab's patterns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ...simple import OneAtATime
from ...worker import Worker
from ..crashing import CrashingWorker
from .. import experiments
from ..i18n import _
from . import CheckFailed, NotDone, fail, record_of


@dataclass
class Delivery:
    """What a labqueue Worker needs of a job: id, type, data; `entry` is what the student returned."""

    id: str
    type: str
    data: dict[str, Any]
    entry: Any


class StudentQueue(OneAtATime):
    """A student's queue (`dequeue(timeout)`, optional `ack(entry)`) as the lab's Worker sees queues."""

    def __init__(self, student: Any, r: Any, waiting: str, processing: str | None = None) -> None:
        self.student = student
        self.redis = r
        self.name = waiting
        none = f"{waiting}:not-used"
        self.keys = SimpleNamespace(waiting=waiting, processing=processing or none + ":processing",
                                    priority=none + ":priority", delayed=none + ":delayed", dlq=none + ":dlq")
        self.errors: list[tuple[str, BaseException]] = []
        self.last_log: experiments.ExecutionLog = experiments.ExecutionLog()
        self._lock = threading.Lock()

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.student, method)(*args)
        except Exception as exc:
            with self._lock:
                self.errors.append((method, exc))
            raise

    def dequeue(self, timeout: float = 0) -> Delivery | None:
        entry = self._call("dequeue", timeout)
        if entry is None:
            return None
        try:
            record = record_of(entry)
        except CheckFailed as exc:
            with self._lock:
                self.errors.append(("dequeue", exc))
            raise
        return Delivery(str(record.get("id")), str(record.get("type", "work")), record, entry)

    def ack(self, job: Delivery) -> Any:
        if hasattr(self.student, "ack"):
            return self._call("ack", job.entry)
        return None

    def nack(self, job: Delivery, error: str = "failed", *, retry: bool = True) -> int:
        return 2  # the harness's handlers never fail

    def size(self) -> int:
        return int(self._call("size"))

    def raise_errors(self) -> None:
        """NotDone for a skeleton method called by a worker thread, CheckFailed for any other error."""
        for method, exc in self.errors:
            if isinstance(exc, NotImplementedError):
                raise NotDone(_("{method}() still raises NotImplementedError; write it, run its cell, "
                                "then run this check again.").format(method=method))
        for method, exc in self.errors:
            if isinstance(exc, CheckFailed):
                raise exc
            raise fail(_("your {method}() raised {error}: {message} in a worker thread.")
                       .format(method=method, error=type(exc).__name__, message=exc))


def run_workers(view: StudentQueue, ids: list[str], *, workers: int = 3, crash_first: int = 0,
                work_seconds: float = 0.002, poll_seconds: float = 0.1) -> experiments.Tally:
    """Run labqueue Workers (burst) over the student's queue until it is empty; return the tally.

    With `crash_first`, a first worker `crasher` is ordered to die on each of its first jobs (the
    lab's crash injection: mid-job, before the work, without ack), then `workers` workers finish.
    """
    log = experiments.ExecutionLog(work_seconds=work_seconds)
    if crash_first:
        crasher = CrashingWorker(view, {"work": log.handler}, name="crasher", concurrency=crash_first,
                                 poll_seconds=poll_seconds, burst=True, on_event=log.on_event)
        crasher.crash(crash_first)  # one thread per ordered crash: each dies on its first job
        crasher.run()
    pool = [Worker(view, {"work": log.handler}, name=f"w{i + 1}", poll_seconds=poll_seconds, burst=True,
                   on_event=log.on_event) for i in range(workers)]
    for w in pool:
        w.start()
    for w in pool:
        w.join()
    view.raise_errors()
    view.last_log = log
    return experiments.tally(view, ids, log)
