"""What the background loops share (Worker, the delayed queue's Scheduler): a blocking
wait sized to Redis's timer, a call with a timeout, stopping once when Redis refuses us, and
waiting for Redis to come back (logged "lost connection ... retrying in X s", then "reconnected").

No Redis structure of its own: the waits are BRPOP / BLMOVE timeouts the callers then send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from .cluster import LOST_NODE, ping_for
from .connection import refused

LOST_REDIS = LOST_NODE  # Redis away, or a cluster failover under way: wait and reconnect
RECONNECT_MAX_DELAY = 5.0
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
    if timeout is None:  # in this thread (every job of a worker without a timeout: no closure, no box)
        try:
            return True, fn(arg), None
        except BaseException as exc:  # handed to the caller, who decides whose failure it is
            return True, None, exc
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["result"] = fn(arg)
        except BaseException as exc:  # handed to the caller, who decides whose failure it is
            box["error"] = exc

    helper = threading.Thread(target=call, name=name, daemon=True)
    helper.start()
    helper.join(timeout)
    if helper.is_alive():
        return False, None, None
    return True, box.get("result"), box.get("error")


class Threads:
    """The state every background loop shares: a name, a lock, counters, a stop flag, why it stopped itself, and
    the way back after Redis went away (`_reconnect`). A subclass sets `queue` (its client and keys)."""

    queue: Any

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

    def _reconnect(self, exc: Exception, where: str, give_up: Callable[[], bool]) -> bool:
        """Wait with backoff until Redis answers PING (logged); False when `give_up()` first (PING).

        PING goes to the server holding the worker's queue (on a cluster, its master). A refusal (wrong
        password, no permission) is no lost connection: the worker stops (False).
        """
        if refused(exc):
            self._refuse(exc)
            return False
        delay = 0.1
        with self._lock:
            self.stats["connection_lost"] += 1
        while not give_up():
            self._log.warning("%s %s: lost connection to Redis (%s: %s); retrying in %.1f s",
                              self.name, where, type(exc).__name__, exc, delay)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not give_up():
                time.sleep(min(0.05, delay))
            try:
                ping_for(self.queue.redis, self.queue.keys.waiting)  # on a cluster: the queue's master
            except LOST_REDIS as again:
                if refused(again):  # back, but the password no longer works
                    self._refuse(again)
                    return False
                exc, delay = again, min(delay * 2, RECONNECT_MAX_DELAY)
                continue
            self._log.warning("%s %s: reconnected to Redis", self.name, where)
            return True
        return False
