"""Notebook 10's chaos helper: a kill hits a worker process that holds jobs, so what the notebook shows
(the simple queue loses jobs, the reliable queue loses none) does not depend on when the kill lands.

Seen in a loaded CI run before the fix: `kill_one()` right after `start()` killed a process that was
still importing, the random kills after it did the same, and the simple queue lost 0 jobs.
"""

from __future__ import annotations

from typing import Any

from labqueue.lab import chaos


def test_a_kill_right_after_start_loses_the_jobs_the_simple_queue_worker_held(redis_server: Any) -> None:
    run = chaos.ChaosRun(redis_server.url, queue="t_chaos_naive", pattern="simple", jobs=60, workers=2,
                         concurrency=2, work_ms=50, auto_kill=False)
    try:
        run.start()
        victim = run.kill_one()          # the first kill, before any worker has taken a job
        assert victim is not None
        tally = run.wait(timeout=30)
    finally:
        run.close()
    assert tally.kills == 1
    # the victim held 1 or 2 jobs (one per thread) when it died; the simple queue never gives them back
    assert 1 <= tally.lost <= run.concurrency, str(tally)
    assert tally.duplicated == 0 and tally.processed == tally.jobs - tally.lost, str(tally)


def test_a_kill_on_the_reliable_queue_loses_nothing_and_duplicates_at_most_what_the_victim_held(
        redis_server: Any) -> None:
    run = chaos.ChaosRun(redis_server.url, queue="t_chaos_reliable", pattern="reliable", jobs=60, workers=2,
                         concurrency=2, work_ms=50, lease=1.0, auto_kill=False)
    try:
        run.start()
        assert run.kill_one() is not None
        tally = run.wait(timeout=30)
        left = run.snapshot()
    finally:
        run.close()
    assert tally.lost == 0 and tally.processed == tally.jobs, str(tally)
    assert tally.duplicated <= run.concurrency, str(tally)
    assert left["processing"] == 0 and left["leases"] == 0, left


def test_holding_names_only_live_processes_with_jobs_in_hand(redis_server: Any) -> None:
    run = chaos.ChaosRun(redis_server.url, queue="t_chaos_holding", pattern="simple", jobs=1, workers=1,
                         auto_kill=False)
    try:
        assert run.holding() == []       # no process yet
        run.redis.hset(run.busy, mapping={"1": 3})   # junk: a pid that is not ours
        assert run.holding() == []
    finally:
        run.close()
