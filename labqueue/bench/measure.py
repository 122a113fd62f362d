"""The measurements: raw redis-py baselines, then each pattern the same way, on one client.

Every rate is jobs per second of wall-clock time (`time.perf_counter`); every processing run starts
with the queue already full (filled in bulk, not timed) and ends when the handler has seen every job.
Memory is the INFO memory `used_memory` delta over N waiting jobs (None on fakeredis: no INFO).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from .patterns import Pattern

CHUNK = 500  # jobs per pipeline / per bulk call, for the baseline and the patterns alike


def payload(i: int) -> dict[str, Any]:
    """The tiny job payload of every measurement."""
    return {"i": i}


def chunks(n: int, size: int = CHUNK) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def used_memory(client: Any) -> int | None:
    """INFO memory used_memory in bytes, or None where the backend has no INFO (fakeredis)."""
    try:
        return int(client.info("memory")["used_memory"])
    except Exception:
        return None


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


# -- raw redis-py baselines --------------------------------------------------------------------
def raw_baselines(client: Any, key: str, n: int, fake: bool) -> dict[str, float | None]:
    """LPUSH one by one, LPUSH pipelined by 500, BLMOVE+LREM loop, RPOP loop, bare-list bytes."""
    proc = key + ":processing"
    items = [json.dumps(payload(i)) for i in range(n)]
    client.delete(key, proc)
    t = time.perf_counter()
    for item in items:
        client.lpush(key, item)
    one = rate(n, time.perf_counter() - t)
    client.delete(key)
    before = used_memory(client)
    t = time.perf_counter()
    for part in chunks(n):
        pipe = client.pipeline(transaction=False)
        for i in part:
            pipe.lpush(key, items[i])
        pipe.execute()
    bulk = rate(n, time.perf_counter() - t)
    after = used_memory(client)
    t = time.perf_counter()
    done = 0
    while True:  # the reliable-queue pattern of the Redis docs: 2 round trips per job
        raw = client.blmove(key, proc, 1, "RIGHT", "LEFT")
        if raw is None:
            break
        client.lrem(proc, 1, raw)
        done += 1
    blmove = rate(done, time.perf_counter() - t)
    _fill_raw(client, key, items)
    t = time.perf_counter()
    done = 0
    while client.rpop(key) is not None:
        done += 1
    rpop = rate(done, time.perf_counter() - t)
    client.delete(key, proc)
    per_job = None if before is None or after is None else (after - before) / n
    return {"enqueue_one": one, "enqueue_bulk": bulk, "process_blmove_lrem": blmove,
            "process_rpop": rpop, "bytes_per_job": per_job}


def _fill_raw(client: Any, key: str, items: list[str]) -> None:
    for part in chunks(len(items)):
        client.lpush(key, *(items[i] for i in part))


# -- one pattern -------------------------------------------------------------------------------
def enqueue_rates(pattern: Pattern, queue: Any, n: int) -> dict[str, float | None]:
    """Jobs/s one by one (paired with raw LPUSH), jobs/s in bulk (500 a call), bytes per waiting job.

    One by one is timed in blocks of 500 alternating with 500 raw LPUSHes on a scratch list, so the
    ratio to raw LPUSH holds even when the machine's load drifts during the run.
    """
    client = queue.redis
    pattern.clear(queue)
    scratch = queue.keys.key("bench:raw")
    spent = raw_spent = 0.0
    for part in chunks(n):
        items = [json.dumps(payload(i)) for i in part]
        t = time.perf_counter()
        for item in items:
            client.lpush(scratch, item)
        raw_spent += time.perf_counter() - t
        t = time.perf_counter()
        for i in part:
            pattern.enqueue(queue, payload(i))
        spent += time.perf_counter() - t
    client.delete(scratch)
    one, raw_one = rate(n, spent), rate(n, raw_spent)
    pattern.clear(queue)
    before = used_memory(client)
    t = time.perf_counter()
    for part in chunks(n):
        pattern.enqueue_bulk(queue, [payload(i) for i in part])
    bulk = rate(n, time.perf_counter() - t)
    after = used_memory(client)
    waiting = pattern.waiting(queue)
    if waiting != n:
        raise RuntimeError(f"{pattern.name}: {waiting} jobs waiting after enqueuing {n}")
    pattern.clear(queue)
    return {"enqueue_one": one, "enqueue_one_raw": raw_one, "enqueue_bulk": bulk,
            "bytes_per_job": None if before is None or after is None else (after - before) / n}


def fill(pattern: Pattern, queue: Any, n: int) -> None:
    pattern.clear(queue)
    for part in chunks(n):
        pattern.enqueue_bulk(queue, [payload(i) for i in part])


def process_rate(pattern: Pattern, queue: Any, n: int, threads: int) -> float:
    """End-to-end jobs/s of one worker (this process, `threads` threads, no-op handler) on n jobs."""
    fill(pattern, queue, n)
    seen = itertools.count()
    last = [0.0]

    def noop(job: Any) -> None:
        next(seen)
        last[0] = time.perf_counter()

    t = time.perf_counter()
    pattern.drain(queue, noop, n, threads)
    handled, left = next(seen), pattern.left(queue)
    if handled != n or any(left.values()):
        raise RuntimeError(f"{pattern.name}: handled {handled} of {n} jobs, left {left}")
    pattern.clear(queue)
    return rate(n, last[0] - t)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def retry_lateness(pattern: Pattern, queue: Any, jobs: int, delay: float = 0.05,
                   gap: float = 0.004) -> tuple[float, float]:
    """p50/p99 ms between a retry's planned time (nack time + backoff) and its second start.

    A producer enqueues one job every `gap` s; each job fails once (nack.lua puts it in the
    delayed set); the idle worker waits until the earliest retry is due (claim.lua promotes it).
    """
    pattern.clear(queue)
    planned: dict[str, float] = {}
    late: list[float] = []
    lock = threading.Lock()

    def handler(job: Any) -> None:
        now = time.time()
        with lock:
            if job.id in planned:
                late.append(now - planned.pop(job.id))
                return
            planned[job.id] = now + delay
        raise RuntimeError("first attempt fails on purpose")

    stop = pattern.start(queue, handler)
    try:
        for i in range(jobs):
            pattern.enqueue_retried(queue, payload(i), delay)
            time.sleep(gap)
        deadline = time.monotonic() + 10 + jobs * delay
        while len(late) < jobs and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop()
    left = pattern.left(queue)
    if len(late) != jobs or any(left.values()):
        raise RuntimeError(f"retry lateness: {len(late)} of {jobs} retries seen, left {left}")
    pattern.clear(queue)
    ms = [x * 1000 for x in late]
    return percentile(ms, 0.5), percentile(ms, 0.99)


def delayed_lateness(pattern: Pattern, queue: Any, jobs: int, gap: float = 0.004,
                     ahead: float = 0.05) -> tuple[float, float]:
    """p50/p99 ms between a delayed job's run-at time and the start of its handler."""
    assert pattern.delayed is not None
    pattern.clear(queue)
    late: list[float] = []
    stop_scheduler = pattern.scheduler(queue) if pattern.scheduler else None

    def handler(job: Any) -> None:
        late.append(time.time() - pattern.run_at(job))

    stop = pattern.start(queue, handler)
    try:
        for i in range(jobs):
            pattern.delayed(queue, payload(i), ahead)
            time.sleep(gap)
        deadline = time.monotonic() + 10
        while len(late) < jobs and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop()
        if stop_scheduler:
            stop_scheduler()
    if len(late) != jobs:
        raise RuntimeError(f"{pattern.name}: {len(late)} of {jobs} delayed jobs started")
    pattern.clear(queue)
    ms = [x * 1000 for x in late]
    return percentile(ms, 0.5), percentile(ms, 0.99)


# -- a killed worker ---------------------------------------------------------------------------
def redelivery_killed_process(pattern: Pattern, url: str, queue: Any, lease: float) -> dict[str, float]:
    """SIGKILL a worker process holding a job; seconds until another worker gets that job.

    Also returns how much of the job's lease was left at the kill (its lease deadline - now).
    """
    pattern.clear(queue)
    job_id = pattern.enqueue_victim(queue, "victim")
    marker = queue.keys.key("bench:holding")
    child = subprocess.Popen([sys.executable, "-m", "labqueue.bench.victim", url, queue.name, str(lease),
                              marker, pattern.victim],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not queue.redis.exists(marker):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the victim worker never took its job: "
                                   + (child.stderr.read().decode()[-500:] if child.stderr else ""))
            time.sleep(0.005)
        time.sleep(min(0.3, lease / 4))  # let it hold the job (and heartbeat) for a moment
        os.kill(child.pid, signal.SIGKILL)
        killed = time.time()
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        if child.stderr:
            child.stderr.close()
    score = pattern.lease_deadline(queue, job_id)
    left = (score - killed) if score is not None else float("nan")
    queue.redis.delete(marker)
    got = _wait_redelivery(pattern, queue, job_id, lease)
    return {"redelivery_s": got - killed, "lease_left_at_kill_s": left, "lease_s": lease}


def redelivery_killed_thread(pattern: Pattern, queue: Any, lease: float) -> dict[str, Any]:
    """The same in one process (fakeredis cannot be shared with a child): a worker dies holding the job."""
    pattern.clear(queue)
    job_id = pattern.enqueue_victim(queue, "victim")
    died, how = pattern.die_holding(queue)
    score = pattern.lease_deadline(queue, job_id)
    left = (score - died) if score is not None else float("nan")
    got = _wait_redelivery(pattern, queue, job_id, lease)
    return {"redelivery_s": got - died, "lease_left_at_kill_s": left, "lease_s": lease, "redelivery_kind": how}


def _wait_redelivery(pattern: Pattern, queue: Any, job_id: str, lease: float) -> float:
    got: list[float] = []
    stop = pattern.start(queue, lambda job: got.append(time.time()) if job.id == job_id else None,
                         poll_seconds=0.05, recover=True)
    try:
        deadline = time.monotonic() + 3 * lease + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        stop()
    if not got:
        raise RuntimeError(f"job {job_id} was not re-delivered within {3 * lease + 5:.0f} s")
    left = pattern.left(queue)
    if any(left.values()):
        raise RuntimeError(f"after re-delivery the queue is not empty: {left}")
    pattern.clear(queue)
    return got[0]


def import_ms(statement: str = "import labqueue", runs: int = 5) -> float:
    """Median wall time of one import statement in a fresh interpreter, in ms."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) * 1000 for _ in range(runs)]
    return statistics.median(times)


IMPORTS = {  # what import_ms is run on: the lazy package, what a user of a queue pays, redis-py alone
    "labqueue": "import labqueue",
    "labqueue_queue": "from labqueue import ReliableQueue, connect",
    "redis": "import redis",
}
