"""What the background loops share (Worker, QueueWorker, the delayed queue's Scheduler): a blocking
wait sized to Redis's timer, a call with a timeout, and stopping once when Redis refuses us.

No Redis structure of its own: the waits are BRPOP / BLMOVE timeouts the callers then send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from .connection import refused

HZ_SLACK = 0.11  # Redis checks blocking timeouts hz (10) times a second: up to 100 ms late
FINAL_STEP = 0.005  # inside the last HZ_SLACK before a due job, look again every 5 ms


def redis_wait(next_due: float | None, longest: float, stop: threading.Event) -> float | None:
    """Seconds to block in Redis (BRPOP, BLMOVE) before a job due at `next_due`, at most `longest`.

    Redis fires blocking timeouts only hz (10) times a second, so within HZ_SLACK of the due time
    this waits a short step on `stop` in Python instead and returns None: look again, then.
    """
    if next_due is None:
        return longest
    until = next_due - time.time()
    if until <= HZ_SLACK:
        stop.wait(min(max(until, 0.0), FINAL_STEP))
        return None
    return min(longest, max(until - HZ_SLACK, 0.01))


def call_with_timeout(fn: Callable[[Any], Any], arg: Any, timeout: float | None,
                      name: str) -> tuple[bool, Any, BaseException | None]:
    """Run `fn(arg)`; with a timeout, in a helper thread joined that long: (finished, result, exception).

    Python cannot kill a thread: a call still running at the timeout is abandoned (finished False)
    and goes on in its daemon thread until it returns; its result is then ignored.
    """
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["result"] = fn(arg)
        except BaseException as exc:  # handed to the caller, who decides whose failure it is
            box["error"] = exc

    if timeout is None:
        call()
    else:
        helper = threading.Thread(target=call, name=name, daemon=True)
        helper.start()
        helper.join(timeout)
        if helper.is_alive():
            return False, None, None
    return True, box.get("result"), box.get("error")


class Threads:
    """The state every worker shares: a name, a lock, counters, a stop flag, and why it stopped itself."""

    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name = name
        self.stats: Counter[str] = Counter()
        self.fatal: str | None = None  # why the worker stopped by itself: Redis refused us (password, ACL)
        self._log = log
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _refuse(self, exc: BaseException) -> None:
        """Redis refused us (authentication, permissions): say so once, stop every thread (no retry)."""
        with self._lock:
            first = self.fatal is None
            if first:
                self.fatal = refused(exc)
                self.stats["refused"] += 1
        if first:
            self._log.error("%s: %s; stopping (retrying cannot help)", self.name, self.fatal)
        self._stopping.set()
