"""Delivery semantics of the reliable queue (issue 10): one id is live once, every delivery has its
own token, late calls change nothing, a Redis blip or a hung handler strands no job, and every
lease, due time and recovery runs on the server's clock, whatever the callers' clocks say.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

import labqueue.delayed
import labqueue.jobqueue
import labqueue.jobspec
import labqueue.reliable
from labqueue import Backoff, DelayedQueue, JobQueue, ReliableQueue, Worker
from labqueue.base import text
from labqueue.scripts import Outcome

CLOCK_MODULES = (labqueue.reliable, labqueue.delayed, labqueue.jobqueue, labqueue.jobspec)


def make(r: Any, name: str = "dq", **kw: Any) -> ReliableQueue:
    kw.setdefault("lease_seconds", 5)
    kw.setdefault("backoff", Backoff.fixed(0))
    return ReliableQueue(r, name, **kw)


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class SkewedClock:
    """The `time` module as a process whose clock is `offset` seconds off sees it."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def clock_off_by(offset: float) -> Iterator[None]:
    """Run the block as a process whose clock is `offset` s off (the server's clock is untouched)."""
    saved = [(m, m.time) for m in CLOCK_MODULES]
    for module, _ in saved:
        module.time = SkewedClock(offset)  # type: ignore[assignment]
    try:
        yield
    finally:
        for module, original in saved:
            module.time = original  # type: ignore[assignment]


# -- 1. a job id is live once -----------------------------------------------------------------------
def test_an_id_already_waiting_in_flight_or_delayed_is_rejected_by_name(r: Any) -> None:
    """enqueue(job_id=X) while X waits, runs or waits for a retry raises DuplicateJob naming X; after the ack X is free."""
    from labqueue import DuplicateJob

    q = make(r)
    q.enqueue({"type": "t", "n": 1}, job_id="X")
    with pytest.raises(DuplicateJob, match="'X'"):
        q.enqueue({"type": "t", "n": 2}, job_id="X")  # waiting
    assert q.size() == 1
    job = q.dequeue(timeout=0.5)
    with pytest.raises(DuplicateJob, match="'X'"):
        q.enqueue({"type": "t", "n": 3}, job_id="X")  # in flight
    assert q.nack(job, "later", delay=30) == Outcome.RETRIED
    with pytest.raises(DuplicateJob, match="'X'"):
        q.enqueue({"type": "t", "n": 4}, job_id="X")  # delayed retry
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 1, "dead": 0}
    q.enqueue({"type": "t"}, job_id="Y")
    assert q.ack(q.dequeue(timeout=0.5)) == 1
    assert q.enqueue({"type": "t"}, job_id="Y") == "Y"  # done: the id is free again


def test_one_deliverys_ack_never_touches_another_delivery_of_the_same_id(r: Any) -> None:
    """Two entries with one id (pushed by hand) are two deliveries: A's ack leaves B's in flight, B's recovery brings B's job back."""
    q = make(r, lease_seconds=0.3, orphan_grace=0.3)
    a_raw = json.dumps({"id": "X", "type": "t", "data": {"who": "a"}}, separators=(",", ":"))
    b_raw = json.dumps({"id": "X", "type": "t", "data": {"who": "b"}}, separators=(",", ":"))
    r.lpush(q.keys.waiting, a_raw, b_raw)
    (a,), _ = q.claim(1)
    (b,), _ = q.claim(1)
    assert (a.data["who"], b.data["who"]) == ("a", "b")
    assert q.ack(a) == 1
    assert r.lrange(q.keys.processing, 0, -1) == [b_raw]  # B's delivery untouched
    time.sleep(0.35)  # B dies: its lease expires
    for _ in range(3):  # past the orphan grace as well: nothing of A's comes back
        q.recover_stale_jobs()
        time.sleep(0.12)
    assert r.lrange(q.keys.waiting, 0, -1) == [b_raw] and q.processing_size() == 0


# -- 2. late calls after a lease expired -----------------------------------------------------------
def test_late_ack_nack_extend_after_the_lease_expired_change_nothing(r: Any) -> None:
    """A's lease expires and B gets the job: A's late nack, nack(retry=False), extend and ack are refused; B's ack works."""
    q = make(r, lease_seconds=0.2)
    q.enqueue({"type": "t"}, job_id="J")
    a = q.dequeue(timeout=0.5)
    time.sleep(0.25)
    assert q.recover_stale_jobs()["requeued"] == 1
    b = q.dequeue(timeout=0.5)
    assert b.id == a.id == "J" and b.attempts == 2
    snapshot = (r.lrange(q.keys.processing, 0, -1), r.zrange(q.keys.leases, 0, -1, withscores=True))
    assert q.nack(a, "late") == Outcome.NOT_OURS
    assert q.nack(a, "late", retry=False) == Outcome.NOT_OURS
    assert q.release(a) == Outcome.NOT_OURS
    assert q.extend_lease([a], 60) == 0
    assert q.ack(a) == 0
    assert (r.lrange(q.keys.processing, 0, -1), r.zrange(q.keys.leases, 0, -1, withscores=True)) == snapshot
    assert q.counts() == {"waiting": 0, "processing": 1, "delayed": 0, "dead": 0}
    assert q.extend_lease([b]) == 1 and q.ack(b) == 1
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


# -- 3. a Redis blip in the middle of a batch ------------------------------------------------------
def test_a_redis_blip_during_a_nack_strands_no_job_of_the_batch(r: Any) -> None:
    """prefetch 3, the first job's nack hits a lost connection: the thread reconnects and the two other jobs still run."""
    q = make(r, lease_seconds=1.0)
    ids = [q.enqueue({"type": "t", "n": n}) for n in range(3)]
    ran: list[int] = []
    blip = {"left": 1}
    real_nack = q.nack

    def flaky_nack(job: Any, *args: Any, **kwargs: Any) -> int:
        if blip["left"]:
            blip["left"] -= 1
            raise redis.ConnectionError("connection reset by peer (test)")
        return real_nack(job, *args, **kwargs)

    def handler(job: Any) -> None:
        ran.append(job.data["n"])
        if job.data["n"] == 0 and ran.count(0) == 1:
            raise RuntimeError("first try fails")

    q.nack = flaky_nack  # type: ignore[method-assign]
    w = Worker(q, {"t": handler}, prefetch=3, poll_seconds=0.05).start()
    try:
        wait_until(lambda: sorted(set(ran)) == [0, 1, 2] and q.counts()["processing"] == 0
                   and q.size() == 0 and not w.held(), 8, "every job of the batch to run")
    finally:
        w.stop(timeout=5)
    assert ids and w.stats["connection_lost"] == 1


def batch_with_a_repeat_in_the_middle(q: JobQueue) -> tuple[str, str, str]:
    """Jobs a, R (the first occurrence of a repeatable job), b, claimed in that order by one jq_claim."""
    a = q.add("j", {"n": "a"})
    tick = q.add("tick", {}, repeat={"every": 0.2}, job_id="tick")
    wait_until(lambda: q.server_time() > float(tick.rsplit(":", 1)[1]) / 1000 + 0.01, 2, "the repeat to be due")
    b = q.add("j", {"n": "b"}, priority=1)  # after the wait list's jobs (a, then R once promoted)
    return a, tick, b


def run_the_batch(q: JobQueue) -> tuple[Worker, dict[str, int]]:
    """A worker (prefetch 3) on q until a, R and b have ended; returns it and how often each job ran."""
    runs: dict[str, int] = {}

    def handler(job: Any) -> None:
        runs[job.id] = runs.get(job.id, 0) + 1

    a, tick, b = batch_with_a_repeat_in_the_middle(q)
    w = Worker(q, {"j": handler, "tick": handler}, prefetch=3, poll_seconds=0.05).start()
    try:
        wait_until(lambda: all(q.get_job(i).state in ("completed", "failed")  # type: ignore[union-attr]
                               for i in (a, tick, b)), 10, "a, R and b to end")
    finally:
        w.stop(timeout=5)
        q.remove_repeatable("tick")
    return w, {i: runs.get(i, 0) for i in (a, tick, b)}


def assert_ran_once_never_stalled(q: JobQueue, w: Worker, runs: dict[str, int]) -> None:
    jobs = {i: q.get_job(i) for i in runs}
    assert {i: (j.state, j.stalls) for i, j in jobs.items()} == {i: ("completed", 0) for i in runs}  # type: ignore[union-attr]
    assert runs == {i: 1 for i in runs} and w.stats["recovered"] == 0 and w.stats["errors"] == 0
    assert w.stats["connection_lost"] == 1  # the error still reached the worker's reconnect


def test_a_redis_blip_while_starting_a_repeatable_job_strands_no_job_of_the_jobqueue_batch(r: Any) -> None:
    """prefetch 3, a JobQueue batch a, R, b where scheduling R's next occurrence (before R runs) hits a lost
    connection: the exception left take() with the whole claimed batch active under its leases in no one's
    hands, so each job was taken back as a stall (max_stalled=0: all three failed). Now a and b run, R is
    handed back first in line (jq_release) and runs after the worker has reconnected; nothing stalls."""
    q = JobQueue(r, "jq-blip", lease_seconds=1.0, max_stalled=0)
    real = q.add_next_occurrence
    blip = {"left": 1}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if blip["left"]:
            blip["left"] -= 1
            raise redis.ConnectionError("connection reset by peer (test)")
        return real(*args, **kwargs)

    q.add_next_occurrence = flaky  # type: ignore[method-assign]
    w, runs = run_the_batch(q)
    assert_ran_once_never_stalled(q, w, runs)
    assert blip["left"] == 0


def test_a_job_that_could_not_be_handed_back_either_is_released_by_the_next_claim(r: Any) -> None:
    """Redis away for R's next occurrence and for its release too: R stays active under the lease of its
    claim; the next claim releases it first (then raises the error to the worker): still no stall."""
    q = JobQueue(r, "jq-away", lease_seconds=1.0, max_stalled=0)
    real_add, real_run = q.add_next_occurrence, q._run
    away = {"add": 1, "release": 1}

    def flaky_add(*args: Any, **kwargs: Any) -> Any:
        if away["add"]:
            away["add"] -= 1
            raise redis.ConnectionError("Connection refused (test)")
        return real_add(*args, **kwargs)

    def flaky_run(script: str, *args: Any, **kwargs: Any) -> Any:
        if script == "release" and away["release"]:
            away["release"] -= 1
            raise redis.ConnectionError("Connection refused (test)")
        return real_run(script, *args, **kwargs)

    q.add_next_occurrence = flaky_add  # type: ignore[method-assign]
    q._run = flaky_run  # type: ignore[method-assign]
    w, runs = run_the_batch(q)
    assert_ran_once_never_stalled(q, w, runs)
    assert away == {"add": 0, "release": 0}


def test_an_unreadable_job_record_in_a_jobqueue_batch_fails_alone(r: Any) -> None:
    """A junk record (not JSON) in the middle of a claimed batch raised JSONDecodeError out of take(): the
    worker thread stopped (stats['errors']) and the batch stayed active in no one's hands. It now fails
    for good with its reason; the other jobs run."""
    q = JobQueue(r, "jq-junk", lease_seconds=1.0, max_stalled=0)
    ids = q.add_bulk([("j", {"i": i}) for i in range(3)])
    r.hset(q.keys.jobs, ids[1], "{not json")
    ran: list[str] = []
    w = Worker(q, {"j": lambda job: ran.append(job.id)}, prefetch=3, poll_seconds=0.05, burst=True)
    w.start()
    assert w.join(timeout=10) == []
    assert sorted(ran) == [ids[0], ids[2]] and w.stats["errors"] == 0
    assert r.zscore(q.keys.failed, ids[1]) is not None and "job record is unreadable" in r.hget(q.keys.errors, ids[1])
    assert q.get_job_counts() == {"waiting": 0, "active": 0, "delayed": 0, "completed": 2, "failed": 1, "paused": 0}


# -- 4. a hung handler -------------------------------------------------------------------------------
def test_a_handler_past_job_timeout_is_failed_with_a_reason_and_its_slot_freed(r: Any) -> None:
    """job_timeout: a hung job is dead-lettered (last attempt) with a timeout reason, its lease dropped; the next job runs."""
    q = make(r, lease_seconds=0.6, max_attempts=1)
    release = threading.Event()
    done: list[str] = []
    hung = q.enqueue({"type": "hang"})
    fine = q.enqueue({"type": "ok"})
    w = Worker(q, {"hang": lambda job: release.wait(30), "ok": lambda job: done.append(job.id)},
               concurrency=1, poll_seconds=0.05, job_timeout=0.3).start()
    try:
        wait_until(lambda: done == [fine] and q.processing_size() == 0, 5, "the next job to run on the freed slot")
        dead = q.dead_letters()
        assert [d.id for d in dead] == [hung] and "timeout" in dead[0].reason.lower()
        assert q.leases() == {} and q.processing_size() == 0 and w.held() == []
    finally:
        release.set()
        w.stop(timeout=5)


def test_stop_reports_a_thread_that_did_not_stop(r: Any, caplog: Any) -> None:
    """stop(timeout) returns the names of the threads still running, and logs them."""
    q = make(r, lease_seconds=0.6)
    release = threading.Event()
    started = threading.Event()
    q.enqueue({"type": "hang"})
    w = Worker(q, {"hang": lambda job: (started.set(), release.wait(30))}, concurrency=1, poll_seconds=0.05).start()
    try:
        assert started.wait(5)
        with caplog.at_level(logging.WARNING, logger="labqueue.worker"):
            still = w.stop(timeout=0.2)
        assert f"{w.name}-0" in still  # (its heartbeat too: it keeps the job's lease while the thread runs)
        assert f"{w.name}-0" in caplog.text and "did not stop" in caplog.text
    finally:
        release.set()
    assert w.stop(timeout=5) == []


# -- 7. the server's clock ---------------------------------------------------------------------------
def test_a_fast_clock_does_not_take_back_a_live_lease(r: Any, make_client: Callable[..., Any]) -> None:
    """A recoverer whose clock is 30 s ahead leaves a live 10 s lease alone."""
    q = make(r, lease_seconds=10)
    q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    other = make(make_client(), lease_seconds=10)
    with clock_off_by(30):
        assert other.recover_stale_jobs() == {"requeued": 0, "dead": 0, "orphans": 0}
    assert q.ack(job) == 1


def test_a_slow_clock_does_not_give_short_leases(r: Any) -> None:
    """A worker whose clock is 30 s behind still gets a 10 s lease (dequeue and claim): recovery leaves it."""
    q = make(r, lease_seconds=10)
    q.enqueue({"type": "t"})
    q.enqueue({"type": "t"})
    with clock_off_by(-30):
        job = q.dequeue(timeout=0.5)
        (other,), _ = q.claim(1)
        assert q.extend_lease([job, other]) == 2
    assert q.recover_stale_jobs() == {"requeued": 0, "dead": 0, "orphans": 0}
    assert all(9 < left <= 10 for left in q.leases().values())


def test_a_fast_clock_makes_no_retry_or_delayed_job_due_early(r: Any) -> None:
    """A 20 s retry or delay set by, or promoted by, a process 30 s ahead is not due now."""
    q = make(r, lease_seconds=10)
    q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    with clock_off_by(30):
        assert q.nack(job, "later", delay=20) == Outcome.RETRIED
        assert q.claim(1)[0] == []
    assert q.claim(1)[0] == [] and q.delayed_size() == 1
    dq = DelayedQueue(r, "dq_delayed")
    with clock_off_by(30):
        dq.enqueue({"type": "t"}, delay_seconds=20)
    dq.enqueue({"type": "t"}, delay_seconds=20)
    with clock_off_by(30):
        assert dq.process_delayed_jobs() == 0
    assert dq.process_delayed_jobs() == 0 and dq.delayed_size() == 2


def test_jobqueue_leases_and_delays_use_the_server_clock(r: Any, make_client: Callable[..., Any]) -> None:
    """JobQueue: a stalled-job check 30 s ahead leaves a live lease; a delay added 30 s ahead is not due now."""
    q = JobQueue(r, "jq_clock", lease_seconds=10)
    q.add("t", {}, attempts=2)
    jobs, *_ = q.claim(1)
    assert len(jobs) == 1
    other = JobQueue(make_client(), "jq_clock", lease_seconds=10)
    with clock_off_by(30):
        assert other.check_stalled() == {"requeued": 0, "failed": 0}
        other.add("t", {}, delay=20)
    with clock_off_by(-30):
        assert other.claim(1)[0] == []  # the delayed job is not due, and the slow clock does not promote it
    assert q.claim(1)[0] == [] and q.get_job_counts()["delayed"] == 1
    with clock_off_by(30):
        job_id, _, token, _ = jobs[0]
        assert other.finish(job_id, token, "failed", "boom", retry_in=20) == Outcome.RETRIED
    assert q.claim(1)[0] == [] and q.get_job_counts()["delayed"] == 2


def test_jobqueue_heartbeat_extends_only_its_own_delivery(r: Any) -> None:
    """JobQueue: a stalled delivery's late lease extension is refused; the new delivery's works."""
    q = JobQueue(r, "jq_tokens", lease_seconds=10)
    q.add("t", {}, job_id="J")
    [(job_id, _, first, _)] = q.claim(1)[0]
    r.zadd(q.keys.active, {"J": 1.0}, xx=True)  # its lease ran out: the worker hung
    assert q.check_stalled() == {"requeued": 1, "failed": 0}
    [(_, _, second, _)] = q.claim(1)[0]
    before = r.zscore(q.keys.active, "J")
    assert q.extend_leases([(job_id, first)]) == 0 and r.zscore(q.keys.active, "J") == before
    assert second != first and q.extend_leases([(job_id, second)]) == 1


# -- stop() while Redis is away -----------------------------------------------------------------------
@contextmanager
def outage_worker(lease_seconds: float) -> Iterator[tuple[Any, ReliableQueue, Worker, list[str]]]:
    """A private redis-server (AOF, fsync always: a restart keeps every write) and a worker one of whose
    jobs has finished in the handler while the server is down, its ack not sent: (server, queue, worker, runs)."""
    from labqueue.lab.server import RedisServer
    from tests.conftest import require_redis_server

    require_redis_server()
    with RedisServer(appendonly=True) as srv:
        client = redis.Redis.from_url(srv.url, decode_responses=True, socket_connect_timeout=0.2)
        q = ReliableQueue(client, "stop-acks", lease_seconds=lease_seconds)
        q.enqueue({"type": "t"}, job_id="once")
        runs: list[str] = []
        started, release = threading.Event(), threading.Event()

        def handler(job: Any) -> None:
            runs.append(job.id)
            started.set()
            release.wait(10)

        w = Worker(q, {"t": handler}, poll_seconds=0.1).start()
        try:
            assert started.wait(10), "the job never started"
            srv.kill()  # Redis goes away while the job runs
            release.set()  # it finishes: its ack goes with the next claim, which fails
            wait_until(lambda: w.stats["connection_lost"] >= 1, 10, "the thread to notice the outage")
            yield srv, q, w, runs
        finally:
            release.set()
            w.stop(timeout=10)
            client.close()


def test_stop_during_a_short_outage_still_acks_the_finished_jobs() -> None:
    """stop() while Redis was away dropped the acks of the jobs that had finished: the thread gave up at
    once, the job stayed leased and ran a second time once its lease ran out. The ack is retried until
    Redis is back (within the lease): the job is done, once."""
    with outage_worker(lease_seconds=5) as (srv, q, w, runs):
        w.stop(wait=False)
        time.sleep(0.5)  # Redis away half a second after stop()
        srv.start()
        assert w.join(timeout=10) == []
        assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}, "the ack was not sent"
        assert not w.held()
        time.sleep(5.5)  # past the lease: nothing comes back
        assert not any(q.recover_stale_jobs().values()) and q.claim(1)[0] == []
        assert runs == ["once"]


def test_stop_during_a_long_outage_gives_up_the_acks_after_the_lease(caplog: pytest.LogCaptureFixture) -> None:
    """Redis still away: the thread retries the ack no longer than the lease (past it, recovery hands the
    job out again whatever it does), then stops and says so; the job is not lost: it runs again."""
    with outage_worker(lease_seconds=1.0) as (srv, q, w, runs):
        with caplog.at_level(logging.WARNING, logger="labqueue.worker"):
            stopped = time.monotonic()
            assert w.stop(timeout=10) == []
            assert time.monotonic() - stopped < 3.0, "stop() waited far past the lease"
        assert "1 finished job(s) not acked" in caplog.text and "run again" in caplog.text
        srv.start()
        time.sleep(1.1)  # the lease runs out
        found = q.recover_stale_jobs()
        assert found["requeued"] + found["orphans"] == 1, found
        again = Worker(q, {"t": lambda job: runs.append(job.id)}, burst=True, poll_seconds=0.1).run()
        assert runs == ["once", "once"] and again.stats["succeeded"] == 1 and q.counts()["processing"] == 0


def test_a_jobqueue_worker_waits_for_redis_to_come_back_and_goes_on(caplog: Any) -> None:
    """A JobQueue worker whose server went away logged each failed poll as an unexpected error with its
    traceback (counted in stats['errors']); it now says 'lost connection ... retrying', waits until PING
    answers, says 'reconnected' and runs the jobs added meanwhile, as labqueue.Worker does."""
    from labqueue.lab.server import RedisServer
    from tests.conftest import require_redis_server

    require_redis_server()
    with RedisServer(appendonly=True) as srv:
        client = redis.Redis.from_url(srv.url, decode_responses=True, socket_connect_timeout=0.2)
        client.set_retry(redis.retry.Retry(redis.backoff.NoBackoff(), 0))
        q = JobQueue(client, "outage", lease_seconds=2)
        done: list[str] = []
        with caplog.at_level(logging.WARNING, logger="labqueue.worker"):
            worker = q.process("j", lambda job: done.append(job.id), poll_seconds=0.05)
            try:
                srv.kill()  # Redis goes away under the idle worker
                wait_until(lambda: worker.stats["connection_lost"] >= 1, 10, "the worker to notice the outage")
                time.sleep(0.3)
                srv.start()
                job_id = q.add("j", {})
                wait_until(lambda: done == [job_id], 10, "the job added after the outage to run")
            finally:
                q.close(timeout=10)
                client.close()
    assert worker.stats["errors"] == 0 and "Traceback" not in caplog.text
    assert "lost connection to Redis" in caplog.text and "reconnected to Redis" in caplog.text


# -- 8. what a handler returns, and junk options in a stored record: the job's failure, never the thread's
def run_burst(q: JobQueue, handler: Callable[[Any], Any]) -> Worker:
    """One worker thread over `q` until nothing is left (burst); it must end by itself."""
    w = Worker(q, {"*": handler}, prefetch=2, poll_seconds=0.05, burst=True)
    w.start()
    assert w.join(timeout=10) == []
    return w


def test_a_return_value_too_deep_to_encode_fails_its_job_and_the_thread_goes_on(r: Any) -> None:
    """json's encoder raises RecursionError (a RuntimeError) on a value nested deeper than the stack: complete()
    caught only TypeError and ValueError, so it went up, ended the worker thread (stats['errors']) and left the
    job active in no one's hands until a stall. Any error encoding the value now fails the job, with its reason."""
    q = JobQueue(r, "jq-deep-result", lease_seconds=5)
    deep, fine = q.add("deep", {}), q.add("fine", {})

    def handler(job: Any) -> Any:
        if job.name == "fine":
            return 1
        value: list[Any] = []
        for _ in range(100_000):
            value = [value]
        return value

    w = run_burst(q, handler)
    assert w.stats["errors"] == 0 and w.stats["succeeded"] == 1
    assert r.zscore(q.keys.failed, deep) is not None and "not JSON-serialisable" in r.hget(q.keys.errors, deep)
    assert r.zscore(q.keys.completed, fine) is not None and q.get_job_counts()["active"] == 0


@pytest.mark.parametrize("opts_or_name, why", [
    ({"name": ["j"]}, "name"),  # unhashable: the handler lookup raised TypeError
    ({"name": None}, "name"),
    ({"name": 5}, "name"),  # ran under '*', then jq_finish refused the whole batch's ack (a name must be a string)
    ({"opts": {"timeout": "30"}}, "timeout"),  # compared with 0, then given to Thread.join
    ({"opts": {"timeout": 1e309}}, "timeout"),  # JSON's 1e309 is inf: Thread.join raised OverflowError
    ({"opts": {"timeout": True}}, "timeout"),
    ({"opts": {"backoff": "junk", "attempts": 3}}, "backoff"),  # read only when the handler failed
    ({"opts": {"backoff": {"type": "exponential", "delay": "1"}, "attempts": 3}}, "backoff"),
], ids=["name-list", "name-null", "name-number", "timeout-text", "timeout-inf", "timeout-bool", "backoff-text",
        "backoff-delay-text"])
def test_a_stored_record_with_an_unusable_name_or_option_fails_alone_and_the_thread_goes_on(
        r: Any, opts_or_name: dict[str, Any], why: str) -> None:
    """jq_add.lua's callers check every option, but a record written by hand (or by an older labqueue) is
    read as it is: a name that is no str, a timeout that is no usable number of seconds, a backoff that is
    no policy raised out of the worker's job (handler lookup, Thread.join, fail()): the thread ended
    (stats['errors']) and the job stayed active in no one's hands. It now fails for good, the option named;
    the rest of the batch runs."""
    q = JobQueue(r, "jq-junk-option", lease_seconds=5)
    before, after = q.add("j", {"i": 0}), q.add("j", {"i": 2})
    r.hset(q.keys.jobs, "junk", json.dumps({"name": "j", "data": {}, **opts_or_name}))
    r.lpush(q.keys.wait, "junk")  # between the two: the batches are [before, junk], [after]

    def handler(job: Any) -> Any:
        if job.id == "junk":
            raise RuntimeError("the handler failed")
        return job.data["i"]

    w = run_burst(q, handler)
    assert w.stats["errors"] == 0
    assert r.zscore(q.keys.failed, "junk") is not None and why in r.hget(q.keys.errors, "junk")
    assert [r.zscore(q.keys.completed, i) is not None for i in (before, after)] == [True, True]
    assert q.get_job_counts()["active"] == 0 and q.get_job_counts()["failed"] == 1


@pytest.mark.parametrize("repeat", [{"every": 0}, {"every": 1e-320}, {"every": -1e-320}],
                         ids=["every-0", "every-tiny", "every-tiny-negative"])
def test_a_stored_repeat_schedule_that_cannot_go_on_fails_its_job_and_no_thread_dies(
        r: Any, repeat: dict[str, Any]) -> None:
    """_start fails a repeatable job whose schedule cannot go on, but caught only ValueError, TypeError and
    KeyError: every 0 (ZeroDivisionError) or every 1e-320 (OverflowError: inf has no floor) escaped as if
    Redis had refused, the job was handed back first in line and the next take raised it: the thread ended,
    and the next thread to claim the job ended too. Only an error from Redis is raised now; the job fails."""
    q = JobQueue(r, "jq-junk-repeat", lease_seconds=5)
    fine = q.add("j", {})
    r.hset(q.keys.jobs, "repeat:k:1000", json.dumps({"name": "j", "data": {}, "opts": {"repeat": repeat}}))
    r.lpush(q.keys.wait, "repeat:k:1000")
    w = run_burst(q, lambda job: 1)
    assert w.stats["errors"] == 0
    assert r.zscore(q.keys.failed, "repeat:k:1000") is not None
    assert "repeat schedule cannot continue" in r.hget(q.keys.errors, "repeat:k:1000")
    assert r.zscore(q.keys.completed, fine) is not None and q.get_job_counts()["waiting"] == 0


def test_a_job_id_or_record_that_is_not_utf8_fails_alone_whatever_the_client_decodes(rd: Any) -> None:
    """A job id or record holding bytes that are not UTF-8 (written by hand): a client with
    decode_responses=True could not decode jq_claim's reply at all (UnicodeDecodeError out of take): the
    worker thread ended and the whole batch stayed active in no one's hands. With decode_responses=False
    the id was read as 'bad-\\ufffd', a job of that name does not exist: the handler ran, its finish named
    no delivery, and the job went round through stalls. Now the id is failed as it is claimed (never run,
    'not valid UTF-8'), the record fails for good as it starts, and the rest of the batch runs."""
    q = JobQueue(rd, "jq-not-utf8", lease_seconds=5)
    first, last = q.add("j", {}), q.add("j", {})
    rd.hset(q.keys.jobs, mapping={b"bad-\xff": b'{"name":"j","data":{}}',
                                  b"bad-record": b'{"name":"j","data":{"x":"\xff"}}'})
    rd.lpush(q.keys.wait, b"bad-\xff", b"bad-record")  # between the two fine jobs
    ran: list[str] = []
    w = run_burst(q, lambda job: ran.append(job.id))
    assert w.stats["errors"] == 0 and sorted(ran) == sorted([first, last])
    assert q.get_job_counts() == {"waiting": 0, "active": 0, "delayed": 0, "completed": 2, "failed": 2, "paused": 0}
    assert rd.zscore(q.keys.failed, b"bad-\xff") is not None and rd.zscore(q.keys.failed, "bad-record") is not None
    assert "not valid UTF-8" in text(rd.hget(q.keys.errors, b"bad-\xff"))
    assert "UnicodeDecodeError" in text(rd.hget(q.keys.errors, "bad-record"))
