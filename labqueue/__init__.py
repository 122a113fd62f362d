"""labqueue: the job-queue patterns of the chapter, implemented correctly on Redis.

`connect()` gives a client (a real server from REDIS_URL, else an embedded fakeredis); each pattern
is a class taking that client and a queue name, as in the chapter.
"""

from .connection import connect, describe
from .cron import CronQueue
from .delayed import DelayedQueue
from .priority import PriorityQueue
from .errors import ConfigError, InvalidJob, LabqueueError, PayloadTooLarge
from .job import Job
from .reliable import ReliableQueue
from .retry import Backoff
from .simple import SimpleQueue
from .worker import Worker, WorkerEvent

__all__ = [
    "Backoff", "ConfigError", "CronQueue", "DelayedQueue", "InvalidJob", "Job", "LabqueueError", "PayloadTooLarge", "PriorityQueue",
    "ReliableQueue", "SimpleQueue", "Worker", "WorkerEvent", "connect", "describe",
]
