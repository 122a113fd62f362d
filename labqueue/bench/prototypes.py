"""Prototypes of core changes, kept in the benchmark to measure them before the core adopts them.

Each is a subclass overriding one method of the core, so `--prototypes` can run it beside the
original in the same run. None is used by the lab itself.

1. `BatchedClaimQueue`: claim.lua with variadic HMGET/HDEL/ZREM/HSET/ZADD and LREM from the tail.
2. `PreciseWaitQueue`: `dequeue` blocks in Redis only for `timeout - HZ_SLACK` (Redis checks blocking
   timeouts at its `hz`, 10/s by default, so a BLMOVE timeout fires up to 100 ms late) and polls
   with LMOVE every 2 ms for the rest: a retry due soon is claimed on time.
3. `DeadlineRecoveryWorker`: besides its heartbeat, wakes at the earliest lease deadline in Redis
   (ZRANGE leases 0 0 WITHSCORES) and runs recover.lua then, not up to lease/3 later.
4. `PreciseScheduler`: the delayed-jobs scheduler with the same short-final-wait rule as 2.
"""

from __future__ import annotations

import threading
import time
from importlib.resources import files
from typing import Any

from ..job import Job
from ..reliable import ReliableQueue
from ..worker import Worker

HZ_SLACK = 0.11  # a blocking timeout in Redis fires up to 1/hz = 100 ms late at the default hz 10
POLL = 0.002


class BatchedClaimQueue(ReliableQueue):
    """ReliableQueue whose claim/ack script is claim_batched.lua (same KEYS, ARGV and reply)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claim = self.redis.register_script(
            (files(__package__) / "claim_batched.lua").read_text(encoding="utf-8"))


class PreciseWaitQueue(ReliableQueue):
    """ReliableQueue whose blocking dequeue ends on time (see the module docstring, item 2)."""

    def dequeue(self, timeout: float = 0) -> Job | None:
        deadline = time.monotonic() + timeout
        if timeout > HZ_SLACK:
            job = super().dequeue(timeout - HZ_SLACK + POLL)
            if job is not None:
                return job
        while True:
            job = super().dequeue(0)  # LMOVE then lease.lua: one non-blocking look
            left = deadline - time.monotonic()
            if job is not None or left <= 0:
                return job
            time.sleep(min(POLL, left))


class PreciseBatchedQueue(BatchedClaimQueue, PreciseWaitQueue):
    """Items 1 and 2 together."""


class DeadlineRecoveryWorker(Worker):
    """A Worker that also runs recovery at the earliest lease deadline (item 3)."""

    def start(self) -> Worker:
        super().start()
        self._deadline_thread = threading.Thread(target=self._recover_at_deadlines, daemon=True,
                                                 name=f"{self.name}-deadlines")
        self._deadline_thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        self._deadline_thread.join(timeout)

    def _recover_at_deadlines(self) -> None:
        queue: ReliableQueue = self.queue
        while not self._stopping.is_set() and self.alive:
            first = queue.redis.zrange(queue.keys.leases, 0, 0, withscores=True)
            wait = queue.lease_seconds / 3 if not first else float(first[0][1]) - time.time()
            if wait > 0:
                self._stopping.wait(min(wait + 0.001, queue.lease_seconds / 3, 0.05 if self.burst else 1e9))
                continue
            found = queue.recover_stale_jobs()
            with self._lock:
                self.stats["recovered"] += found["requeued"] + found["orphans"]


def precise_scheduler(queue: Any) -> Any:
    """Start a delayed-jobs scheduler whose waits end on time (item 4); returns its stop()."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            nxt = queue.tick()
            wait = 1.0 if nxt is None else max(nxt - time.time(), 0.0)
            if wait > HZ_SLACK:
                queue.redis.brpop([queue.keys.wake], timeout=min(wait, 5.0) - HZ_SLACK + POLL)
            elif wait > 0:
                stop.wait(min(wait, POLL))

    thread = threading.Thread(target=loop, daemon=True, name=f"precise-scheduler-{queue.name}")
    thread.start()

    def halt() -> None:
        stop.set()
        queue.redis.lpush(queue.keys.wake, "stop")
        thread.join(10)
    return halt
