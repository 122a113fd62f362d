"""DelayedQueue: run-at scores, atomic promotion, a scheduler that sleeps until the next due job."""

from __future__ import annotations

import logging
import threading
import time

import fakeredis
import pytest
import redis

from labqueue import ConfigError, DelayedQueue, InvalidJob, ReliableQueue
from labqueue.delayed import Scheduler
from labqueue.lab.server import RedisServer
from tests.conftest import require_redis_server
from tests.helpers import CommandCounter


def test_promotion_only_when_due(r):
    """A delayed job stays delayed until its run-at time, then is promoted."""
    q = DelayedQueue(r, "d")
    q.enqueue({"x": 1}, delay_seconds=60)
    q.enqueue({"x": 0})
    assert q.delayed_size() == 1 and q.size() == 1
    assert q.process_delayed_jobs() == 0
    assert q.process_delayed_jobs(now=time.time() + 61) == 1
    assert q.delayed_size() == 0 and q.size() == 2



@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 1e12, True, "1800000000", -1.0])
def test_a_now_that_is_no_usable_time_is_refused_and_nothing_is_promoted(r, bad):
    """promote/process_delayed_jobs/tick(now=...) refuse a now that is not a finite time before year 9000
    (the check CronQueue uses): a ConfigError naming it, every job still delayed. now=inf promoted every
    job, however far ahead; a string was sent as its repr, which promote.lua read as the server's clock."""
    q = DelayedQueue(r, "bad-now")
    q.enqueue_many([{"type": "t"}] * 3, delay_seconds=3600)
    for call in (q.process_delayed_jobs, q.promote, q.tick):
        with pytest.raises(ConfigError, match=r"now must be a finite number >= 0 and <= \S+, got "):
            call(now=bad)
    assert q.delayed_size() == 3 and q.size() == 0
    assert q.process_delayed_jobs(now=time.time() + 7200) == 3

def test_two_schedulers_racing_promote_each_job_once(r, make_client):
    """Two schedulers promoting concurrently move every due job exactly once."""
    q1, q2 = DelayedQueue(r, "race"), DelayedQueue(make_client(), "race")
    q1.enqueue_many(({"i": i} for i in range(400)), delay_seconds=0.05)
    time.sleep(0.06)
    moved = []
    barrier = threading.Barrier(2)

    def run(q):
        barrier.wait()
        total = 0
        for _ in range(40):
            total += q.process_delayed_jobs(limit=10)
        moved.append(total)

    threads = [threading.Thread(target=run, args=(q,)) for q in (q1, q2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(moved) == 400 and q1.size() == 400 and q1.delayed_size() == 0
    ids = [q1.dequeue().data["i"] for _ in range(400)]
    assert sorted(ids) == list(range(400))


def test_scheduler_sleeps_until_due_and_wakes_early(r):
    """The scheduler delivers a job added while it sleeps, earlier than its previous next due time."""
    q = DelayedQueue(r, "wake")
    q.enqueue({"n": "late"}, delay_seconds=30)
    sched = q.start_scheduler(max_sleep=30)
    try:
        time.sleep(0.2)  # now sleeping for ~30 s in BRPOP
        q.enqueue({"n": "soon"}, delay_seconds=0.1)
        job = q.dequeue(timeout=5)
        assert job is not None and job.data["n"] == "soon"
        assert q.delayed_size() == 1
    finally:
        sched.stop()


def test_idle_scheduler_does_not_poll(r):
    """With nothing due, the scheduler sends a handful of commands per second, not a busy loop."""
    q = DelayedQueue(r, "idle")
    q.enqueue({"n": 1}, delay_seconds=60)
    counter = CommandCounter(r)
    sched = q.start_scheduler(max_sleep=5)
    time.sleep(1.0)
    sched.stop()
    assert counter.count <= 8, counter.names


def test_polling_scheduler_like_the_chapter(r):
    """interval=0.05 polls (the chapter's way) and still promotes."""
    q = DelayedQueue(r, "poll")
    sched = q.start_scheduler(interval=0.05)
    try:
        q.enqueue({"n": 1}, delay_seconds=0.1)
        assert q.dequeue(timeout=3) is not None
    finally:
        sched.stop()
    assert sched.passes >= 2


def test_fractional_delays_order(r):
    """Fractional delays promote in run-at order."""
    q = DelayedQueue(r, "frac")
    q.enqueue({"n": "b"}, delay_seconds=0.2)
    q.enqueue({"n": "a"}, delay_seconds=0.1)
    q.process_delayed_jobs(now=time.time() + 1)
    assert [q.dequeue().data["n"] for _ in range(2)] == ["a", "b"]


def test_delayed_jobs_feed_a_reliable_queue(r):
    """A DelayedQueue and a ReliableQueue of the same name share the waiting list."""
    q = DelayedQueue(r, "shared")
    q.enqueue({"type": "t"}, delay_seconds=0.01)
    time.sleep(0.02)
    q.process_delayed_jobs()
    rq = ReliableQueue(r, "shared")
    job = rq.dequeue(timeout=0.5)
    assert job is not None and rq.ack(job) == 1


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", None])
def test_bad_delay(r, bad):
    """A negative, infinite or non-numeric delay is refused; nothing written."""
    with pytest.raises(InvalidJob, match="delay_seconds must be a finite number >= 0"):
        DelayedQueue(r, "bad").enqueue({"x": 1}, delay_seconds=bad)
    assert r.dbsize() == 0


def test_a_wrong_typed_wake_key_fails_the_enqueue_before_anything_is_scheduled(r):
    """schedule.lua pushes the wake token before it schedules: a wake key of the wrong type fails the
    call with nothing written, so the producer's retry cannot make a second copy. The job was
    scheduled and then the WRONGTYPE raised: the caller saw a failure for a job that would run."""
    import redis as redis_py

    q = DelayedQueue(r, "wake-wrong")
    r.set(q.keys.wake, "oops")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.enqueue_many([{"type": "t", "n": 1}, {"type": "t", "n": 2}], delay_seconds=5)
    assert q.delayed_size() == 0
    r.delete(q.keys.wake)
    q.enqueue({"type": "t"}, delay_seconds=5)
    assert q.delayed_size() == 1 and r.llen(q.keys.wake) == 1


def test_a_due_job_stays_scheduled_when_the_waiting_key_has_the_wrong_type(r):
    """promote.lua pushes a due job to the waiting list before it leaves the delayed set: with the
    waiting key holding another type the promotion fails and the job is still scheduled, promoted
    once the key is fixed. It removed the job first: the push failed and the job was gone."""
    import redis as redis_py

    q = DelayedQueue(r, "promote-wrong")
    q.enqueue({"type": "t"}, delay_seconds=5)
    r.set(q.keys.waiting, "oops")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.process_delayed_jobs(now=time.time() + 3600)
    assert q.delayed_size() == 1
    r.delete(q.keys.waiting)
    assert q.process_delayed_jobs(now=time.time() + 3600) == 1 and q.size() == 1


def _started(q: DelayedQueue, **options) -> Scheduler:
    """A scheduler of `q` that has made its first pass (so it sleeps in BRPOP on the wake list)."""
    sched = q.start_scheduler(**options)
    deadline = time.monotonic() + 10
    while sched.passes < 1:
        assert time.monotonic() < deadline, "the scheduler never made a pass"
        time.sleep(0.01)
    return sched


def test_stop_joins_the_scheduler_when_redis_is_gone(caplog):
    """Scheduler.stop() with its Redis server killed: the wake-up LPUSH raised ConnectionError out of stop()
    and the thread was never joined (a second stop() returned at once). stop() now logs the error and
    still joins: when it returns, the thread has ended."""
    require_redis_server()
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        q = DelayedQueue(client, "gone")
        q.enqueue({"type": "t"}, delay_seconds=3600)
        sched = _started(q, max_sleep=2)
        server.kill()
        with caplog.at_level(logging.WARNING, logger="labqueue.scheduler"):
            sched.stop()
        client.close()
    assert not sched._thread.is_alive()
    assert any("could not wake" in rec.getMessage() for rec in caplog.records), caplog.text


def test_stop_joins_the_scheduler_and_raises_an_error_that_is_not_redis():
    """An error of another kind from the wake-up call is not swallowed: stop() raises it, after the join."""
    q = DelayedQueue(fakeredis.FakeRedis(), "odd")
    sched = _started(q, max_sleep=0.2)

    def broken(*args, **kwargs):
        raise RuntimeError("not a Redis error")

    q.redis.lpush = broken
    with pytest.raises(RuntimeError, match="not a Redis error"):
        sched.stop()
    assert not sched._thread.is_alive()
