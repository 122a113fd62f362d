"""Notebook 10's chaos helper: a kill hits a worker process that holds jobs, so what the notebook shows
(the simple queue loses jobs, the reliable queue loses none) does not depend on when the kill lands.

Seen in a loaded CI run before the fix: `kill_one()` right after `start()` killed a process that was
still importing, the random kills after it did the same, and the simple queue lost 0 jobs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis

from labqueue import _running
from labqueue.lab import cells, chaos
from labqueue.lab.server import RedisServer
from tests.conftest import require_redis_server


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


def _drained_run_on(server: RedisServer, queue: str) -> chaos.ChaosRun:
    """A small run on `server`, waited until drained (its threads joined, its workers stopped)."""
    run = chaos.ChaosRun(server.url, queue=queue, pattern="reliable", jobs=4, workers=1, concurrency=1,
                         work_ms=1, auto_kill=False)
    run.start()
    run.wait(timeout=30)
    return run


def test_closing_again_at_kernel_shutdown_after_the_notebook_stopped_its_server_logs_nothing(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notebook 10's order: run.close(), server.stop(), then the cell registry closes the run again
    at kernel shutdown. Before the fix the second close() sent DEL to the stopped server and the
    registry logged "stopping ChaosRun failed" with a ConnectionError traceback.

    The registry is this test's own and the run is recorded in it directly (cells._record, what the
    kernel's listener calls), with no listener installed: in a full run, earlier tests leave runs
    registered between cells and the kernel's listener installed, so the server and the run this test
    starts were recorded too (CI saw stop_cell return 5, then 3); stopping those is not this test's
    business."""
    monkeypatch.setattr(cells, "_started", {})
    monkeypatch.setattr(cells, "_current", None)
    monkeypatch.setattr(_running, "_listener", None)  # an earlier test may have left the kernel's listener
    monkeypatch.setattr(_running, "_looked", True)    # installed: the server and the run would be recorded too
    require_redis_server()
    server = RedisServer().start()
    try:
        run = _drained_run_on(server, "t_chaos_close_twice")
        run.close()                                   # the notebook's own close: the keys go
    finally:
        server.stop()                                 # the notebook's last cell
    cells._record(run, run.close)                     # what the kernel's registry holds for the run
    with caplog.at_level(logging.DEBUG):
        assert cells.stop_cell(cells._BETWEEN) == 1   # kernel shutdown closes it again
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [], caplog.text


def test_a_first_close_after_the_server_is_gone_kills_the_workers_and_raises_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    """close() with the server already stopped: nothing to delete (the keys went with the server), the
    worker processes are still killed and the client closed; no error raised or logged."""
    require_redis_server()
    server = RedisServer().start()
    try:
        run = _drained_run_on(server, "t_chaos_close_gone")
        run.kill_one(wait=0)                          # a live worker again, for close() to kill
    finally:
        server.stop()
    with caplog.at_level(logging.DEBUG):
        run.close()
        run.close()
    assert all(p.poll() is not None for p in run.procs), "a worker process outlived close()"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [], caplog.text


def test_close_does_not_swallow_other_redis_errors(redis_server: Any) -> None:
    """Only a server that is gone is tolerated: any other error from the DEL still reaches the caller."""
    run = chaos.ChaosRun(redis_server.url, queue="t_chaos_close_error", pattern="simple", jobs=1, workers=1,
                         auto_kill=False)

    def refuse(*_keys: str) -> int:
        raise redis.ResponseError("NOPERM this user has no permissions to run the 'del' command")

    run.redis.delete = refuse  # type: ignore[method-assign]
    with pytest.raises(redis.ResponseError, match="NOPERM"):
        run.close()


def test_the_jobs_of_a_chaos_run_carry_the_workers_max_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers ran with --max-attempts 50, but the jobs were enqueued with the default 3, and a job's
    own max_attempts wins: near the end of a run the killer (it targets processes holding jobs) hit the
    last jobs again and again, and one went to the DLQ never run. CI saw notebook 10 report '1 lost,
    299 processed' in two kernels at once. The jobs now carry chaos.ATTEMPTS."""
    require_redis_server()
    monkeypatch.setattr(chaos.ChaosRun, "_spawn", lambda self: None)  # no worker: the jobs stay waiting
    server = RedisServer().start()
    try:
        run = chaos.ChaosRun(server.url, queue="t_chaos_attempts", pattern="reliable", workers=1,
                             jobs=5, work_ms=1, auto_kill=False).start()
        try:
            raws = run.redis.lrange(run.keys.waiting, 0, -1)
            assert len(raws) == 5
            assert {json.loads(raw)["max_attempts"] for raw in raws} == {chaos.ATTEMPTS}
        finally:
            run.close()
    finally:
        server.stop()
