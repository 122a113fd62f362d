"""Notebook 09 helpers: a crash on each kind of queue, the rate limit, job timeouts, auto-scaling."""

from __future__ import annotations

import pytest

from labqueue import DelayedQueue, PriorityQueue, ReliableQueue
from labqueue.jobqueue import JobQueue
from labqueue.lab import operations as ops


def test_a_crash_loses_the_job_on_priority_and_delayed_queues_not_on_leased_ones(r):
    """A worker dying mid-job loses it on the priority and delayed queues; reliable and production re-run it."""
    table = ops.crash_each({"priority": PriorityQueue(r, "ops-pri"), "delayed": DelayedQueue(r, "ops-del"),
                            "reliable": ReliableQueue(r, "ops-rel", lease_seconds=0.3),
                            "production": JobQueue(r, "ops-jq", lease_seconds=0.3)}, jobs=3)
    assert list(table["crashed mid-job"]) == [1, 1, 1, 1]
    assert list(table["lost"]) == [1, 1, 0, 0]
    assert list(table["processed"]) == [2, 2, 3, 3]
    assert list(table["still in Redis"]) == [0, 0, 0, 0]


def test_max_in_window_counts_a_sliding_window():
    """Events closer than the window count together; events exactly one window apart do not."""
    assert ops.max_in_window([0.0, 0.1, 0.15, 0.2, 0.35], 0.2) == 3
    assert ops.max_in_window([0.0, 0.2, 0.4], 0.2) == 1
    assert ops.max_in_window([], 1.0) == 0


def test_the_limiter_never_lets_more_than_max_jobs_start_in_a_window(r):
    """40 jobs, 4 threads, limiter 5 per 0.2 s: never more than 5 starts in any 0.2 s, so >= 1.4 s in all."""
    run = ops.RateLimitRun(JobQueue(r, "ops-rl", limiter={"max": 5, "duration": 0.2}), jobs=40, workers=4,
                           live=False).run()
    assert len(run.starts) == 40
    assert run.busiest_window() == 5
    assert max(run.starts) - min(run.starts) >= 7 * 0.2 - 0.01   # 8 windows of 5 starts: 7 gaps at least


def test_a_hung_handler_is_given_up_at_its_timeout_and_the_job_fails_after_its_attempts(r):
    """The hung job is given up at its timeout on each of its 2 attempts, then failed; the quick one completes."""
    q = JobQueue(r, "ops-hung", lease_seconds=1)
    calls = []

    def handler(job):
        calls.append(job.data["kind"])
        if job.data["kind"] == "hang":
            job.cancelled.wait(30)
        return "sent"

    hung = q.add("call", {"kind": "hang"}, timeout=0.2, attempts=2)
    q.add("call", {"kind": "quick"}, timeout=0.2, attempts=2)
    q.process("call", handler, concurrency=2, poll_seconds=0.05)
    try:
        counts = ops.wait_settled(q, timeout=10)
    finally:
        q.close()
    assert calls.count("hang") == 2 and calls.count("quick") == 1
    assert counts["completed"] == 1 and counts["failed"] == 1
    assert [(j.id, j.failed_reason) for j in q.get_failed()] == [
        (hung, "TimeoutError: job exceeded its timeout of 0.2 s")]


def test_autoscaler_targets_depth_over_per_worker_within_bounds():
    """ceil(depth / per_worker), at least low and at most high."""
    scaler = ops.AutoScaler(object(), lambda job: None, per_worker=10, low=1, high=6)
    assert [scaler.target(d) for d in (0, 1, 10, 11, 45, 500)] == [1, 1, 1, 2, 5, 6]
    with pytest.raises(ValueError):
        ops.AutoScaler(object(), lambda job: None, low=3, high=2)


def test_autoscale_run_adds_workers_for_a_burst_and_removes_them_after(r):
    """A burst grows the pool above one worker; once drained it is back to one; no job lost."""
    q = ReliableQueue(r, "ops-auto", lease_seconds=2)
    scaler, producer, log, _ = ops.autoscale_run(q, jobs=120, live=False)
    assert max(w for _, _, w in scaler.history) >= 3
    assert scaler.workers == 1
    assert len(log.completed()) == 120 == len(producer.ids)
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}
