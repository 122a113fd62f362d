"""Delivery races and junk counts on the reliable queue: a worker that pauses between its BLMOVE and
its lease must not lease the copy another worker now holds, and a job's delivery count holding junk
halts neither recovery (every dead worker's job) nor claim/lease/nack/release.
"""

from __future__ import annotations

from typing import Any

import pytest

import labqueue.reliable
from labqueue import Backoff, ReliableQueue
from labqueue.scripts import Outcome


class Clock:
    """A test clock the scripts use instead of the server's TIME (ReliableQueue(clock=))."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(r: Any, **kw: Any) -> ReliableQueue:
    kw.setdefault("lease_seconds", 5)
    kw.setdefault("backoff", Backoff.fixed(0))
    return ReliableQueue(r, "races", **kw)


def test_a_worker_paused_before_its_lease_does_not_lease_the_copy_another_worker_holds(
        r: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    q = make(r, orphan_grace=0)
    q.enqueue({"n": 1}, job_id="X")
    taken: list[Any] = []
    real_run_script = labqueue.reliable.run_script

    def paused_then_lease(client: Any, script: Any, keys: Any, args: Any) -> Any:
        # worker A moved X to processing and pauses before its lease (GC, swap) past the orphan grace:
        # recovery re-queues the orphan (two passes: noticed, then grace over) and worker B claims it
        if script is q._lease and not taken:
            q.recover_stale_jobs()
            q.recover_stale_jobs()
            taken.extend(q.claim(1)[0])
        return real_run_script(client, script, keys, args)

    monkeypatch.setattr(labqueue.reliable, "run_script", paused_then_lease)
    late = q.dequeue(0)  # worker A's dequeue, its lease script now running
    monkeypatch.undo()
    assert [j.id for j in taken] == ["X"], "worker B should hold the re-queued job"
    assert late is None, f"worker A leased the copy worker B holds: X delivered twice at once ({late!r})"
    assert r.hlen(q.keys.inflight) == 1, "one delivery in flight"
    assert q.ack(*taken) == 1
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}
    q.enqueue({"n": 2}, job_id="X")  # acked: the id is free again
    assert q.size() == 1


def test_a_junk_delivery_count_halts_neither_recovery_nor_claim_nack_release(r: Any) -> None:
    clock = Clock()
    q = make(r, lease_seconds=5, clock=clock)
    for job_id in ("dead-worker", "other-dead-worker"):
        q.enqueue({"n": 1}, job_id=job_id)
    jobs, _ = q.claim(2)
    assert len(jobs) == 2
    r.hset(q.keys.attempts, "dead-worker", "junk")  # an operator's mistake, a bad migration
    clock.now += 10  # both workers died: their leases expired
    found = q.recover_stale_jobs()
    assert found["requeued"] + found["dead"] == 2, f"recovery halted on one junk count: {found}"
    assert q.processing_size() == 0

    q.enqueue({"n": 2}, job_id="waiting")
    r.hset(q.keys.attempts, "waiting", "junk")
    claimed, _ = q.claim(3)
    assert sorted(j.id for j in claimed) == ["dead-worker", "other-dead-worker", "waiting"], \
        "claim failed on a junk count after moving the job (left in processing, unleased)"
    assert r.hlen(q.keys.inflight) == 3 and q.processing_size() == 3
    by_id = {j.id: j for j in claimed}
    r.hset(q.keys.attempts, "waiting", "junk")
    assert q.nack(by_id["waiting"], "boom") == Outcome.RETRIED, "nack failed on a junk count"
    r.hset(q.keys.attempts, "dead-worker", "junk")
    assert q.release(by_id["dead-worker"]) == Outcome.RELEASED
    assert r.hget(q.keys.attempts, "dead-worker") is not None, "a released job's id stays live"
    assert q.processing_size() == 1 and q.size() == 2

    r.hset(q.keys.attempts, "dead-worker", "junk")
    job = q.dequeue(0)  # the BLMOVE path: LMOVE then lease.lua
    assert job is not None and job.id == "dead-worker" and job.attempts == 1, \
        "lease.lua failed on a junk count after the move"


def test_a_batch_job_taken_back_during_an_outage_is_not_run_again_after_reconnecting(r: Any) -> None:
    """prefetch 3; Redis is away longer than the leases: another worker recovers and runs the batch's
    other jobs. Back online, this worker must not run them a second time (their deliveries are not its)."""
    import threading
    import time

    import redis

    from labqueue import Worker

    q = make(r, lease_seconds=1.0)
    for n in range(3):
        q.enqueue({"type": "t", "n": n})
    ran: list[int] = []
    other: list[Any] = []
    went_away = threading.Event()
    real_nack = q.nack

    def nack_during_outage(job: Any, *args: Any, **kwargs: Any) -> int:
        if not went_away.is_set():
            went_away.set()
            # the outage outlives the leases: another worker's recovery takes the batch back
            ahead = make(r, lease_seconds=1.0, clock=lambda: time.time() + 60)
            assert ahead.recover_stale_jobs()["requeued"] == 3
            other.extend(q.claim(3)[0])  # ... and that worker now runs them
            raise redis.ConnectionError("connection reset by peer (test)")
        return real_nack(job, *args, **kwargs)

    def handler(job: Any) -> None:
        ran.append(job.data["n"])
        raise RuntimeError("fails: its nack meets the outage")

    q.nack = nack_during_outage  # type: ignore[method-assign]
    w = Worker(q, {"t": handler}, prefetch=3, poll_seconds=0.05, recover=False).start()
    try:
        deadline = time.monotonic() + 8
        while not (w.stats["connection_lost"] == 1 and not w.held()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        w.stop(timeout=5)
    assert sorted(j.data["n"] for j in other) == [0, 1, 2]
    assert ran == [0], f"jobs another worker holds were run again after the reconnect: {ran}"
    assert q.ack(*other) == 3, "the other worker's deliveries were disturbed"
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


def test_extend_lease_counts_a_delivery_still_ours_even_when_its_deadline_is_unchanged(r: Any) -> None:
    """extend_lease returns how many deliveries are still ours: one extended twice at the same instant is still ours."""
    clock = Clock()
    q = make(r, clock=clock)
    q.enqueue({"n": 1})
    jobs, _ = q.claim(1)
    assert q.extend_lease(jobs) == 1
    assert q.extend_lease(jobs) == 1, "a live lease whose deadline did not move was reported lost"
    assert q.ack(*jobs) == 1 and q.extend_lease(jobs) == 0


@pytest.mark.parametrize("reset", ["clear", "flushdb", "junk counter"])
def test_a_late_ack_after_the_queue_was_reset_does_not_end_a_new_delivery_of_the_same_id(r: Any, reset: str) -> None:
    """Tokens never repeat: after clear(), FLUSHDB (a notebook's fresh start) or a restart without
    persistence, the delivery counter restarts, and '1:X' was handed out again to a new job X."""
    q = make(r)
    q.enqueue({"n": 1}, job_id="X")
    old, _ = q.claim(1)  # a worker of the previous run still holds this delivery
    if reset == "clear":
        q.clear()
    elif reset == "flushdb":
        for client in r.get_primaries() if hasattr(r, "get_primaries") else [r]:
            (r.get_redis_connection(client) if hasattr(r, "get_redis_connection") else client).flushdb()
    else:
        q.clear()
        r.set(q.keys.seq, "junk")
    q.enqueue({"n": 2}, job_id="X")
    new = q.dequeue(0) if reset == "junk counter" else q.claim(1)[0][0]
    assert new is not None and new.token != old[0].token, f"token {new.token} handed out twice"
    assert q.ack(*old) == 0, "the old delivery's late ack ended the new delivery of X"
    assert q.ack(new) == 1


@pytest.mark.parametrize("junk", ["junk", "nan", "inf", "1e18"])
def test_a_junk_orphan_time_neither_halts_recovery_nor_strands_the_orphan(r: Any, junk: str) -> None:
    """An orphan's first-seen time that is no time (junk, NaN, infinite, in the future) restarts its
    grace period at the server's now: the orphan is re-queued one grace later, and recovery goes on.
    Junk made recover.lua fail on every call (arithmetic on nil): no orphan was ever re-queued again
    and every heartbeat logged the error; NaN or a future time kept that one orphan in processing."""
    clock = Clock()
    q = make(r, clock=clock, orphan_grace=5)
    q.enqueue({"n": 1}, job_id="orphan")  # a worker moved it, then died before its lease
    r.lmove(q.keys.waiting, q.keys.processing, "RIGHT", "LEFT")
    r.hset(q.keys.orphans, "orphan", junk)
    assert q.recover_stale_jobs()["orphans"] == 0  # seen now: the grace starts
    clock.now += 5
    assert q.recover_stale_jobs()["orphans"] == 1
    assert q.processing_size() == 0 and q.size() == 1 and r.hlen(q.keys.orphans) == 0
