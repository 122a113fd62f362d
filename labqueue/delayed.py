"""Pattern 4, delayed jobs: a sorted set scored by run-at time, and a scheduler that sleeps until
the next job is due instead of polling every second.

Redis structures: the sorted set `lq:{name}:delayed` (serialised job -> run-at unix time), the
list `lq:{name}:waiting` of jobs ready to run (shared with ReliableQueue of the same name, so
delayed jobs can be consumed reliably), and `lq:{name}:wake`, a one-token list that
schedule.lua pushes when a job is due earlier than all others, to wake a sleeping scheduler
(in any process) through its BRPOP. Scripts: schedule.lua, promote.lua.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis

from . import _running
from . import scripts
from .base import text
from .checks import check_now, integer, number
from .connection import refused
from .errors import ConfigError, InvalidJob
from .simple import SimpleQueue
from .threads import redis_wait

log = logging.getLogger("labqueue.scheduler")


def check_delay(delay_seconds: Any) -> float:
    """The delay as a float; InvalidJob when it is not a finite number >= 0."""
    return number("delay_seconds", delay_seconds, error=InvalidJob)


class DelayedQueue(SimpleQueue):
    """`DelayedQueue(redis_client, queue_name)`: `enqueue(data, delay_seconds=2.5)`, then a scheduler."""

    def __init__(self, redis_client: Any, queue_name: str = "delayed_jobs", **options: Any) -> None:
        super().__init__(redis_client, queue_name, **options)
        self._schedule = scripts.load(redis_client, "schedule")
        self._promote = scripts.load(redis_client, "promote")

    def enqueue(self, job_data: dict[str, Any], delay_seconds: float = 0, *,  # type: ignore[override]
                type: str | None = None, job_id: str | None = None) -> str:
        """Run a job `delay_seconds` from now (schedule.lua), or at once when 0 (LPUSH)."""
        return self.enqueue_many([job_data], delay_seconds, type=type, job_id=job_id)[0]

    def enqueue_many(self, jobs: Iterable[dict[str, Any]], delay_seconds: float = 0, *,  # type: ignore[override]
                     type: str | None = None, job_id: str | None = None) -> list[str]:
        """Many jobs with one delay, in one round trip (schedule.lua, or LPUSH when not delayed). A `job_id`
        names one job: with more, a ConfigError (each would have carried that id)."""
        delay = check_delay(delay_seconds)
        run_at = time.time() + delay
        jobs = list(jobs)
        if job_id is not None and len(jobs) != 1:
            raise ConfigError(f"job_id {job_id!r} names one job; enqueue_many got {len(jobs)}: leave job_id out "
                              "(each job gets its own id) or enqueue them one by one")
        built = [self._new_job(data, type=type, job_id=job_id, run_at=run_at if delay else None)
                 for data in jobs]
        if built and delay:  # due `delay` s from now by the server's clock; run_at in the JSON is for show
            args: list[Any] = []
            for job in built:
                args += [repr(delay), job.raw]
            self._write(lambda c: self._schedule(keys=[self.keys.delayed, self.keys.wake], args=args, client=c))
        elif built:
            self._write(lambda c: c.lpush(self.keys.waiting, *(job.raw for job in built)))
        return [job.id for job in built]

    def process_delayed_jobs(self, now: float | None = None, limit: int = 1000) -> int:
        """Move the jobs due now (by the server's clock) to the waiting list, each once; returns how many.

        `now` is for teaching and tests only (notebook 04's time travel): promote as if it were
        that time. Production code never passes it, so a process with a wrong clock cannot make a
        job due early (promote.lua reads the server's TIME).
        """
        return self.promote(now, limit)[0]

    def promote(self, now: float | None = None, limit: int = 1000) -> tuple[int, float | None]:
        """Like process_delayed_jobs, also returning when the next job is due (promote.lua).

        That time is on this process's clock (the server reports how long until then), or on the
        `now` given, so a scheduler sleeps the right time even when the clocks disagree. Both are
        checked first: `now` a finite time before year 9000 (check_now; now=inf moved every job),
        `limit` an int >= 1 (up to what ZRANGEBYSCORE's LIMIT takes; LIMIT 0 -1 would move every due job).
        """
        now = check_now(now)
        limit = integer("limit", limit, low=1, high=2**63 - 1)
        base = time.time() if now is None else now  # taken before the call: early, never late
        moved, nxt = self._promote(keys=[self.keys.delayed, self.keys.waiting],
                                   args=["" if now is None else repr(now), limit])
        return int(moved), (base + float(text(nxt)) if text(nxt) else None)

    def tick(self, now: float | None = None) -> float | None:
        """One scheduler pass: promote due jobs; returns when the next one is due."""
        while True:
            moved, nxt = self.promote(now)
            if moved < 1000:
                return nxt

    def delayed_size(self) -> int:
        """Jobs scheduled and not yet due (ZCARD)."""
        return int(self.redis.zcard(self.keys.delayed))

    def next_due(self) -> float | None:
        """Run-at time of the earliest delayed job, on the server's clock, or None (ZRANGE 0 0 WITHSCORES).

        For inspection and simulated time (`tick(now=next_due())`); a scheduler sleeps on what
        `tick()` returns instead, which is on its own clock.
        """
        first = self.redis.zrange(self.keys.delayed, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def start_scheduler(self, interval: float | None = None, max_sleep: float = 5.0) -> Scheduler:
        """Start a scheduler thread: sleeping until the next due job, or polling every `interval` s."""
        return Scheduler(self, interval=interval, max_sleep=max_sleep).start()


class Scheduler:
    """Promotes due jobs of a queue. `interval=None`: BRPOP on the wake list until the next due time."""

    def __init__(self, queue: DelayedQueue, *, interval: float | None = None, max_sleep: float = 5.0) -> None:
        if interval is not None:
            number("interval", interval, above=True, high=threading.TIMEOUT_MAX)
        number("max_sleep", max_sleep, above=True, high=threading.TIMEOUT_MAX)
        self.queue = queue
        self.interval = interval
        self.max_sleep = max_sleep
        self.passes = 0
        self.fatal: str | None = None  # why the thread stopped by itself: Redis refused us (password, ACL)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"scheduler-{queue.name}", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        _running.started(self, self.stop)
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the loop (a wake token breaks its BRPOP) and join the thread, whatever the LPUSH meets.

        With Redis away the token cannot be sent: the error is logged and the thread, which sees the
        stop flag after its current wait (a dead connection ends its BRPOP), is joined all the same.
        An error of another kind is raised, after the join.
        """
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self.queue.redis.lpush(self.queue.keys.wake, "stop")
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            log.warning("scheduler of %s: could not wake it to stop (%s); waiting for its current wait to end",
                        self.queue.name, exc)
        finally:
            _running.join(self._thread, timeout)

    def _run(self) -> None:
        queue = self.queue
        while not self._stop.is_set():
            try:
                nxt = queue.tick()
            except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:  # Redis away (or a failover)
                if refused(exc):  # a wrong password or no permission: retrying cannot help
                    self.fatal = refused(exc)
                    log.error("scheduler of %s: %s; stopping (retrying cannot help)", queue.name, self.fatal)
                    return
                log.warning("scheduler of %s: %s; retrying in 1 s", queue.name, exc)
                self._stop.wait(1.0)
                continue
            except Exception:  # never a dead scheduler: say why, wait, try again
                log.exception("scheduler of %s: unexpected error; retrying in 1 s", queue.name)
                self._stop.wait(1.0)
                continue
            self.passes += 1
            if self.interval is not None:  # the chapter's way: look again every interval
                self._stop.wait(self.interval)
                continue
            wait = redis_wait(nxt, self.max_sleep, self._stop)
            if wait is None:
                continue
            try:
                queue.redis.brpop([queue.keys.wake], timeout=wait)
            except (redis.RedisError, redis.exceptions.RedisClusterException):
                self._stop.wait(min(wait, 1.0))
