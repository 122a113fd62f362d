"""Worker: handlers by type, graceful stop, burst mode, crash injection, never spinning."""

from __future__ import annotations

import threading
import time

import pytest

from labqueue import Backoff, DelayedQueue, PriorityQueue, ReliableQueue, SimpleQueue, Worker
from labqueue.lab.crashing import CrashingWorker
from tests.helpers import CommandCounter


def reliable(r, name="w", **kw):
    kw.setdefault("backoff", Backoff.fixed(0))
    return ReliableQueue(r, name, **kw)


@pytest.mark.parametrize("cls", [SimpleQueue, ReliableQueue])
def test_idle_worker_sleeps_instead_of_spinning(r, cls):
    """An idle worker blocks in Redis: a few commands per second, not a busy loop."""
    q = cls(r, "idle")
    counter = CommandCounter(r)
    w = Worker(q, {}, concurrency=2, poll_seconds=0.5).start()
    time.sleep(1.0)
    w.stop()
    blocking = [n for n in counter.names if n in ("BLMOVE", "BRPOPLPUSH", "BRPOP")]
    assert blocking, counter.names
    assert counter.count < 40, f"{counter.count} commands in 1 s: {counter.names[:20]}"


def test_unknown_type_goes_to_dlq_with_reason(r):
    """A job type without a handler is dead-lettered with the reason, not dropped."""
    q = reliable(r)
    q.enqueue({"type": "mystery"})
    Worker(q, {"known": lambda job: None}, burst=True).run()
    [dead] = q.dead_letters()
    assert "unknown job type 'mystery'" in dead.reason and q.processing_size() == 0


def test_handler_exception_nacks_then_dlq(r):
    """A handler that always raises is retried max_attempts times, then dead-lettered."""
    q = reliable(r, max_attempts=3)
    q.enqueue({"type": "flaky"})
    calls = []

    def flaky(job):
        calls.append(job.attempts)
        raise TimeoutError("SMTP timeout")

    w = Worker(q, {"flaky": flaky}, burst=True).run()
    assert calls == [1, 2, 3] and w.stats["retried"] == 2 and w.stats["dead"] == 1
    assert q.dead_letters()[0].reason == "TimeoutError: SMTP timeout"


def test_graceful_stop_finishes_job_in_hand(r):
    """stop() lets the running job finish and ack; the prefetched rest goes back to waiting."""
    q = reliable(r)
    q.enqueue_many({"type": "slow", "i": i} for i in range(5))
    started, finished = threading.Event(), []

    def slow(job):
        started.set()
        time.sleep(0.3)
        finished.append(job.data["i"])

    w = Worker(q, {"slow": slow}, prefetch=5).start()
    assert started.wait(3)
    w.stop()
    assert finished == [0]
    assert q.processing_size() == 0 and q.size() == 4
    assert q.dequeue(timeout=0.5).attempts == 1  # released jobs were not counted as attempts


def test_crash_leaves_job_leased_then_recovered(r, make_client):
    """A crashed worker's job stays in processing until its lease expires, then another worker gets it."""
    q = reliable(r, lease_seconds=0.3)
    job_id = q.enqueue({"type": "t"})
    done = []
    w = CrashingWorker(q, {"t": lambda job: done.append(job.id)}, poll_seconds=0.1, recover=False)
    w.crash(1)
    w.start()
    deadline = time.time() + 3
    while w.alive and time.time() < deadline:
        time.sleep(0.02)
    w.stop()
    assert w.stats["crashed"] == 1 and not done and q.processing_size() == 1
    survivor = Worker(reliable(make_client(), lease_seconds=0.3), {"t": lambda job: done.append(job.id)},
                      poll_seconds=0.1, burst=False).start()
    deadline = time.time() + 5
    while not done and time.time() < deadline:
        time.sleep(0.05)
    survivor.stop()
    assert done == [job_id] and q.processing_size() == 0


def test_the_core_worker_only_exposes_a_checkpoint_hook_for_crashes(r):
    """Killed raised by checkpoint('after') ends the thread: the job ran, was never acked, stays leased."""
    from labqueue.worker import Killed

    class DiesAfterTheWork(Worker):
        def checkpoint(self, point, job):
            if point == "after":
                raise Killed

    q = reliable(r, lease_seconds=5)
    job_id = q.enqueue({"type": "t"})
    done = []
    w = DiesAfterTheWork(q, {"t": lambda job: done.append(job.id)}, poll_seconds=0.1, recover=False, burst=True).run()
    assert done == [job_id] and w.stats["crashed"] == 1 and q.processing_size() == 1 and list(q.leases()) == [job_id]
    assert not hasattr(Worker, "crash") and "crash_point" not in Worker.__init__.__code__.co_varnames


def test_crash_after_handler_processes_twice(r):
    """crash_point='after' (done, not acked) leads to a second delivery: at-least-once."""
    q = reliable(r, lease_seconds=0.2)
    q.enqueue({"type": "t"})
    runs = []
    w = CrashingWorker(q, {"t": lambda job: runs.append(job.attempts)}, concurrency=2, crash_point="after",
               poll_seconds=0.1)
    w.crash(1)
    w.start()
    deadline = time.time() + 5
    while len(runs) < 2 and time.time() < deadline:
        time.sleep(0.05)
    w.stop()
    assert runs == [1, 2] and q.processing_size() == 0


def test_events_name_worker_and_job(r):
    """on_event reports which worker thread took which job."""
    q = reliable(r)
    ids = q.enqueue_many({"type": "t"} for _ in range(10))
    events = []
    Worker(q, {"t": lambda job: None}, concurrency=3, burst=True, name="w1", on_event=events.append).run()
    succeeded = [e for e in events if e.kind == "succeeded"]
    assert sorted(e.job_id for e in succeeded) == sorted(ids)
    assert all(e.worker == "w1" and 0 <= e.thread < 3 for e in succeeded)


@pytest.mark.parametrize("cls", [PriorityQueue, DelayedQueue])
def test_worker_runs_other_patterns(r, cls):
    """The worker also drains priority and delayed queues."""
    q = cls(r, "other")
    for i in range(5):
        q.enqueue({"type": "t", "i": i})
    seen = []
    Worker(q, {"t": lambda job: seen.append(job.data["i"])}, burst=True, poll_seconds=0.1).run()
    assert sorted(seen) == list(range(5)) and q.size() == 0


def test_bad_worker_settings(r):
    """Zero concurrency, zero poll or an unknown crash point are refused."""
    q = reliable(r)
    with pytest.raises(ValueError, match="concurrency"):
        Worker(q, {}, concurrency=0)
    with pytest.raises(ValueError, match="poll_seconds must be a finite number > 0"):
        Worker(q, {}, poll_seconds=0)
    with pytest.raises(ValueError, match="crash_point"):
        CrashingWorker(q, {}, crash_point="middle")


def test_thread_killed_by_an_unexpected_error_stops_heartbeating_its_job(r):
    """A worker thread that dies of a bug lets its job's lease expire, so the job is recovered and done."""
    q = reliable(r, lease_seconds=0.3)
    job_id = q.enqueue({"type": "t"})
    done: list[str] = []
    w = Worker(q, {"t": lambda job: done.append(job.id)}, concurrency=2, poll_seconds=0.1, recover=False)
    original = w._handle
    w._handle = lambda job, thread: (_ for _ in ()).throw(RuntimeError("bug in the worker"))
    w.start()
    deadline = time.time() + 3
    while w.stats["errors"] < 1 and time.time() < deadline:
        time.sleep(0.02)
    w._handle = original
    assert w.stats["errors"] == 1 and w.alive == 1  # one thread died, the other lives and heartbeats
    time.sleep(0.5)  # past the lease: the dead thread's job is no longer extended
    assert q.recover_stale_jobs()["requeued"] == 1
    deadline = time.time() + 3
    while not done and time.time() < deadline:
        time.sleep(0.02)
    w.stop()
    assert done == [job_id] and q.counts()["processing"] == 0


def test_a_poll_longer_than_a_thread_wait_takes_is_refused(r):
    """poll_seconds=1e10 was accepted; the worker thread then died on OverflowError (Event.wait beyond
    threading.TIMEOUT_MAX) and stopped taking jobs. Workers, the JobQueue worker and the scheduler refuse
    it up front, naming it; threading.TIMEOUT_MAX itself is accepted."""

    from labqueue import ConfigError, JobQueue, ReliableQueue

    q = ReliableQueue(r, "long-poll")
    with pytest.raises(ConfigError, match="poll_seconds must be"):
        Worker(q, {"x": lambda job: None}, poll_seconds=1e10)
    with pytest.raises(ConfigError, match="poll_seconds must be"):
        JobQueue(r, "long-poll-jq").process("x", lambda job: None, poll_seconds=1e10)
    for kwargs in ({"interval": 1e10}, {"max_sleep": 1e10}):
        with pytest.raises(ConfigError, match="must be a finite number"):
            DelayedQueue(r, "long-poll-d").start_scheduler(**kwargs)
    assert Worker(q, {"x": lambda job: None}, poll_seconds=threading.TIMEOUT_MAX).poll_seconds > 0  # the largest


@pytest.mark.parametrize("kind", ["started", "succeeded", "retried"])
def test_an_on_event_callback_that_raises_neither_kills_the_thread_nor_changes_the_outcome(r, kind, caplog):
    """on_event is an observer: its exception is logged, and the job ends as it would have. It
    propagated: the thread died ('stopped on an unexpected error') and a job that had succeeded was
    never acked (run again when its lease ran out), one that failed was never nacked."""
    q = reliable(r, "observer", lease_seconds=30)
    ids = q.enqueue_many([{"type": "ok"}, {"type": "fail"}, {"type": "ok"}])

    def observe(event):
        if event.kind == kind:
            raise RuntimeError("the dashboard is gone")

    def handler(job):
        if job.type == "fail":
            raise ValueError("boom")

    w = Worker(q, {"ok": handler, "fail": handler}, burst=True, poll_seconds=0.05, on_event=observe).run()
    assert w.stats["errors"] == 0 and w.stats["succeeded"] == 2 and w.stats["retried"] >= 1
    assert q.processing_size() == 0 and r.zcard(q.keys.leases) == 0
    assert "the dashboard is gone" in caplog.text and len(ids) == 3


def test_an_interrupted_run_stops_its_threads_before_it_raises(r) -> None:
    """Worker.run() interrupted (Ctrl-C while it waits) stops the worker first: no thread runs on after it raised.

    The benchmark deletes its keys when interrupted; a worker thread still claiming then wrote one back
    (notebook 11's interrupt session: 'the benchmark left 1 keys in Redis: [...:attempts]')."""
    q = ReliableQueue(r, "run-interrupted", lease_seconds=1.0)
    worker = Worker(q, {"*": lambda job: None}, concurrency=2, poll_seconds=0.05)
    joins: list[float | None] = []
    real_join = worker.join

    def join(timeout: float | None = None) -> list[str]:
        joins.append(timeout)
        if len(joins) == 1:
            raise KeyboardInterrupt  # as Ctrl-C lands in the main thread, inside run()'s wait
        return real_join(timeout)

    worker.join = join  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        worker.run()
    assert worker.stopped and worker.alive == 0, f"{worker.alive} worker thread(s) still running after run() raised"
    q.enqueue({"n": 1})
    time.sleep(0.3)
    assert q.size() == 1, "a thread of the interrupted worker took a job after run() raised"
