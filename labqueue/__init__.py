"""labqueue: the job-queue patterns of the chapter, implemented correctly on Redis.

`connect()` gives a client (a real server from REDIS_URL, else an embedded fakeredis); each pattern
is a class taking that client and a queue name, as in the chapter.

Names are imported on first use (PEP 562), so `import labqueue` stays fast: redis-py alone takes
over 100 ms to import, and a worker process started for one queue pays only for what it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "connect": "connection", "describe": "connection",
    "ConfigError": "errors", "DuplicateJob": "errors", "InvalidJob": "errors", "LabqueueError": "errors", "PayloadTooLarge": "errors",
    "ReplayRefused": "errors",
    "Job": "job", "Backoff": "retry",
    "SimpleQueue": "simple", "ReliableQueue": "reliable", "PriorityQueue": "priority",
    "DelayedQueue": "delayed", "CronQueue": "cron", "Worker": "worker", "WorkerEvent": "worker",
    "JobQueue": "jobqueue", "QueueEvents": "events", "QueueMetrics": "metrics",
    "MetricsExporter": "metrics", "AdminServer": "admin",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(f"labqueue.{_WHERE[name]}"), name)  # names from the table above only
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labqueue' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from .admin import AdminServer
    from .connection import connect, describe
    from .cron import CronQueue
    from .delayed import DelayedQueue
    from .errors import ConfigError, DuplicateJob, InvalidJob, LabqueueError, PayloadTooLarge, ReplayRefused
    from .events import QueueEvents
    from .job import Job
    from .jobqueue import JobQueue
    from .metrics import MetricsExporter, QueueMetrics
    from .priority import PriorityQueue
    from .reliable import ReliableQueue
    from .retry import Backoff
    from .simple import SimpleQueue
    from .worker import Worker, WorkerEvent
