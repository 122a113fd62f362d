"""JobQueue (issue 4): the chapter's Bull feature set, on both backends."""

from __future__ import annotations

import json
import math
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from labqueue import cron, scripts
from labqueue.bench.roundtrips import count_round_trips
from labqueue.errors import ConfigError, InvalidJob
from labqueue.jobqueue import JobQueue
from labqueue.scripts import Outcome
from labqueue.jobdelivery import ActiveJob


def wait_for(check: Any, timeout: float = 10.0, step: float = 0.02) -> Any:
    """Poll `check()` until it is truthy (the assertion is on Redis state, the timeout only a guard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def make(r: Any, name: str = "jobs", **kw: Any) -> JobQueue:
    kw.setdefault("lease_seconds", 1.0)
    return JobQueue(r, name, **kw)


def claim_ids(q: JobQueue, n: int = 100) -> list[str]:
    return [job_id for job_id, *_ in q.claim(n)[0]]


def test_dedup_by_job_id(r: Any) -> None:
    """A second add with the same job id is a no-op: one job, same id back."""
    q = make(r)
    assert q.add("email", {"to": "a"}, job_id="welcome-1") == "welcome-1"
    assert q.add("email", {"to": "b"}, jobId="welcome-1") == "welcome-1"
    assert q.get_job_counts()["waiting"] == 1
    assert q.get_job("welcome-1").data == {"to": "a"}  # type: ignore[union-attr]


@pytest.mark.parametrize("opts, word", [
    ({"job_id": "42"}, "job_id"), ({"priority": -1}, "priority"), ({"attempts": 0}, "attempts"),
    ({"backoff": {"type": "linear"}}, "backoff"), ({"repeat": {"cron": "61 * * * *"}}, "cron"),
    ({"repeat": {"cron": "0 9 * * *", "tz": "Mars/Base"}}, "time zone"), ({"delay": -1}, "delay"),
    ({"remove_on_complete": -2}, "remove_on_complete"), ({"timeout": 0}, "timeout"), ({"colour": 1}, "colour"),
])
def test_bad_option_names_itself_and_writes_nothing(r: Any, opts: dict[str, Any], word: str) -> None:
    """A bad option raises InvalidJob naming it; nothing is written to Redis."""
    q = make(r)
    with pytest.raises(InvalidJob, match=word):
        q.add("email", {"to": "a"}, **opts)
    with pytest.raises(InvalidJob):
        q.add_bulk([("email", {"ok": 1}), ("email", {"to": "a"}, opts)])
    assert r.dbsize() == 0


def test_add_bulk_is_one_script_call(r: Any) -> None:
    """add_bulk enqueues 200 jobs with one jq_add.lua call, in order; add is one call too."""
    q = make(r)
    r.script_load(scripts.source("jq_add"))  # as after a first add: the server knows the script
    with count_round_trips(r) as trips:
        ids = q.add_bulk([("email", {"i": i}) for i in range(200)])
    assert dict(trips.commands) == {"EVALSHA": 1} and len(ids) == 200 and len(set(ids)) == 200
    assert q.get_job_counts()["waiting"] == 200
    assert [j.data["i"] for j in q.get_jobs("waiting", 0, 2)] == [0, 1, 2]
    with count_round_trips(r) as trips:
        q.add("email", {"i": 200}, priority=3, attempts=2)
    assert dict(trips.commands) == {"EVALSHA": 1}


def test_priority_order(r: Any) -> None:
    """Jobs without priority run first, then priority 1, 2, ... (FIFO among equals), as in BullMQ."""
    q = make(r)
    q.add("j", {"n": "p2"}, priority=2)
    q.add("j", {"n": "none-a"})
    q.add("j", {"n": "p1-a"}, priority=1)
    q.add("j", {"n": "p1-b"}, priority=1)
    q.add("j", {"n": "none-b"})
    order = [q.get_job(i).data["n"] for i in claim_ids(q)]  # type: ignore[union-attr]
    assert order == ["none-a", "none-b", "p1-a", "p1-b", "p2"]


def test_delayed_job_waits_then_runs(r: Any) -> None:
    """A delayed job is not delivered before its time, then is."""
    q = make(r)
    job_id = q.add("j", {}, delay=0.3)
    assert claim_ids(q) == [] and q.get_job_counts()["delayed"] == 1
    assert q.get_job(job_id).state == "delayed"  # type: ignore[union-attr]
    time.sleep(0.35)
    assert claim_ids(q) == [job_id]


def test_process_progress_and_return_value(r: Any) -> None:
    """A handler's progress and return value are stored with the job and emitted as events."""
    q = make(r)
    job_id = q.add("send-email", {"to": "user@example.com"})

    def handler(job: ActiveJob) -> dict[str, Any]:
        job.progress(50)
        job.progress(100)
        return {"sent": True, "to": job.data["to"]}

    q.process("send-email", handler, concurrency=2, poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] == 1)
    q.close()
    job = q.get_job(job_id)
    assert job is not None and job.state == "completed" and job.progress == 100
    assert job.return_value == {"sent": True, "to": "user@example.com"}
    kinds = [f["event"] for _, f in r.xrange(q.keys.events)]
    assert kinds == ["progress", "progress", "completed"]


def test_attempts_and_backoff(r: Any) -> None:
    """A job retried with backoff until attempts are spent; then failed with its error kept."""
    q = make(r, default_job_options={"attempts": 3, "backoff": {"type": "exponential", "delay": 0.02}})
    flaky = q.add("flaky", {"fail_times": 2})
    doomed = q.add("flaky", {"fail_times": 9})
    tries: dict[str, int] = {}

    def handler(job: ActiveJob) -> str:
        tries[job.id] = tries.get(job.id, 0) + 1
        if job.attempts_made < job.data["fail_times"]:
            raise ConnectionError("SMTP timeout")
        return "ok"

    q.process("flaky", handler, poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] + q.get_job_counts()["failed"] == 2)
    q.close()
    ok, dead = q.get_job(flaky), q.get_job(doomed)
    assert ok is not None and ok.state == "completed" and ok.attempts_made == 2 and tries[flaky] == 3
    assert dead is not None and dead.state == "failed" and dead.attempts_made == 3 and tries[doomed] == 3
    assert dead.failed_reason == "ConnectionError: SMTP timeout"
    finals = [f["final"] for _, f in r.xrange(q.keys.events) if f["event"] == "failed"]
    assert finals.count("1") == 1 and len(finals) == 5  # 2 + 3 failed attempts


def test_counts_after_mixed_run_add_up(r: Any) -> None:
    """After a mixed run, the counts per state add up to the jobs added."""
    q = make(r, default_job_options={"attempts": 2})
    q.add_bulk([("ok", {"i": i}) for i in range(20)] + [("bad", {"i": i}) for i in range(5)])
    q.add("ok", {"later": True}, delay=60)
    q.add("ok", {"p": 1}, priority=3)
    q.process("ok", lambda job: job.data, concurrency=3, poll_seconds=0.05)
    q.process("bad", lambda job: 1 / 0, poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] == 21 and q.get_job_counts()["failed"] == 5)
    q.close()
    counts = q.get_job_counts()
    assert sum(counts.values()) == 27
    assert counts == {"waiting": 0, "active": 0, "delayed": 1, "completed": 21, "failed": 5, "paused": 0}
    assert len(q.get_jobs("completed")) == 21 and len(q.get_jobs("delayed")) == 1


def test_get_job_counts_is_one_round_trip(r: Any) -> None:
    """get_job_counts sends one pipeline (one round trip)."""
    q = make(r)
    sent = []
    real = r.pipeline
    r.pipeline = lambda *a, **kw: sent.append(1) or real(*a, **kw)
    q.get_job_counts()
    assert sent == [1]


def test_retry_one_and_retry_failed(r: Any) -> None:
    """retry(id) moves one failed job back with fresh attempts; retry_failed moves all."""
    q = make(r)
    ids = q.add_bulk([("bad", {"i": i}) for i in range(4)])
    for job_id, _, token, _ in q.claim(4)[0]:
        q.finish(job_id, token, "failed", "boom")
    assert q.get_job_counts()["failed"] == 4
    assert q.retry(ids[0]) and not q.retry(ids[0]) and not q.retry("nope")
    job = q.get_job(ids[0])
    assert job is not None and job.state == "waiting" and job.attempts_made == 0 and job.failed_reason is None
    assert q.retry_failed() == 3 and q.retry_failed() == 0
    assert q.get_job_counts()["waiting"] == 4 and q.get_job_counts()["failed"] == 0


def test_clean_by_grace_state_and_limit(r: Any) -> None:
    """clean removes finished jobs older than the grace period, in the state asked, up to the limit."""
    q = make(r)
    q.add_bulk([("j", {"i": i}) for i in range(6)])
    for n, (job_id, _, token, _) in enumerate(q.claim(6)[0]):
        q.finish(job_id, token, "completed" if n < 4 else "failed", "null")
    assert q.clean(3600, "completed") == []  # nothing that old
    assert len(q.clean(0, "completed", limit=3)) == 3
    assert q.get_job_counts()["completed"] == 1 and q.get_job_counts()["failed"] == 2
    assert len(q.clean(0, "failed")) == 2 and q.get_job_counts()["failed"] == 0
    assert r.hlen(q.keys.jobs) == 1
    with pytest.raises(ConfigError, match="clean"):
        q.clean(0, "active")


def test_pause_stops_new_deliveries_within_one_poll(r: Any) -> None:
    """After pause(), jobs added are not delivered; resume() lets the same workers take them."""
    q = make(r)
    q.process("j", lambda job: None, concurrency=2, poll_seconds=0.1)
    q.add("j", {"before": True})
    wait_for(lambda: q.get_job_counts()["completed"] == 1)
    q.pause()
    q.add_bulk([("j", {"i": i}) for i in range(5)])
    time.sleep(0.3)  # three polls
    counts = q.get_job_counts()
    assert counts["paused"] == 5 and counts["completed"] == 1 and counts["active"] == 0
    assert r.hget(q.keys.metrics, "total_dequeued") == "1"
    q.resume()
    wait_for(lambda: q.get_job_counts()["completed"] == 6)
    q.close()


def test_stalled_job_is_redelivered(r: Any) -> None:
    """A job whose worker died (no lease renewal) goes back to waiting with a stalled event, then runs."""
    q = make(r, lease_seconds=0.2)
    job_id = q.add("j", {})
    assert claim_ids(q) == [job_id]  # a worker took it, then died
    assert q.check_stalled() == {"requeued": 0, "failed": 0}  # lease still running
    time.sleep(0.25)
    assert q.check_stalled() == {"requeued": 1, "failed": 0}
    assert [f["event"] for _, f in r.xrange(q.keys.events)] == ["stalled"]
    q.process("j", lambda job: "done", poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] == 1)
    q.close()
    job = q.get_job(job_id)
    assert job is not None and job.stalls == 1 and job.return_value == "done"


def test_a_stalled_priority_job_keeps_its_priority_first_of_its_level(r: Any) -> None:
    """A stalled job with a priority is ready again at its own level, ahead of the jobs of that level that
    waited (where it stood, as BullMQ, as a released job: jq_lib.lua ready(..., first)); jobs without priority
    and better priorities still come before it. The old code RPUSHed it to `wait`, its priority lost: it came
    out first of all (stalled, plain, urgent, same, later)."""
    q = make(r, lease_seconds=0.2)
    stalled = q.add("j", {"n": 0}, priority=2)
    assert claim_ids(q) == [stalled]  # a worker took it, then died
    plain = q.add("j", {"n": 1})
    urgent = q.add("j", {"n": 2}, priority=1)
    same = q.add("j", {"n": 3}, priority=2)
    later = q.add("j", {"n": 4}, priority=3)
    time.sleep(0.25)
    assert q.check_stalled() == {"requeued": 1, "failed": 0}
    assert r.zscore(q.keys.prio, stalled) is not None and r.lrange(q.keys.wait, 0, -1) == [plain]
    assert [j.id for j in q.get_jobs("waiting")] == [plain, urgent, stalled, same, later]
    assert claim_ids(q) == [plain, urgent, stalled, same, later]
    assert q.get_job(stalled).stalls == 1  # type: ignore[union-attr]


def test_priority_limit_is_the_last_exact_score(r: Any) -> None:
    """Priorities 1..2**21 - 1 (labqueue.priority_score): at 2**21 - 1, with the sequence at its end, the
    scores are exact (up to 2**53 - 1) and FIFO holds. 2**21 is refused, the error naming the limit (the old
    MAX_PRIORITY = 2**21 was inclusive: scores 2**53 + sequence, where doubles step by 2 and jobs tie)."""
    from labqueue.priority_score import MAX_PRIORITY, MAX_SEQUENCE, score

    q = make(r)
    with pytest.raises(InvalidJob, match=r"option 'priority' must be an integer from 0 to 2097151, got 2097152 "
                                         r"\(0 = none; at most 2\*\*21 - 1"):
        q.add("j", {}, priority=2**21)
    assert r.exists(*q.keys.all()) == 0
    r.hset(q.keys.meta, "pseq", MAX_SEQUENCE - 3)
    ids = [q.add("j", {"i": i}, priority=MAX_PRIORITY) for i in range(3)]
    scores = [s for _, s in r.zrange(q.keys.prio, 0, -1, withscores=True)]
    assert scores == [score(MAX_PRIORITY, MAX_SEQUENCE - 3 + n) for n in (1, 2, 3)] and scores[-1] == 2**53 - 1
    assert claim_ids(q) == ids


def test_a_job_failed_for_stalling_is_trimmed_by_its_remove_on_fail(r: Any) -> None:
    """A job failed for stalling too often is kept or removed as its remove_on_fail says, as one failed by its handler."""
    q = make(r, lease_seconds=0.1, max_stalled=0)
    kept = q.add("j", {}, remove_on_fail=1)
    assert claim_ids(q) == [kept]
    time.sleep(0.15)
    assert q.check_stalled() == {"requeued": 0, "failed": 1}
    gone = q.add("j", {}, remove_on_fail=1)  # the newest one failed is kept, the older one removed
    assert claim_ids(q) == [gone]
    time.sleep(0.15)
    assert q.check_stalled() == {"requeued": 0, "failed": 1}
    assert q.get_job(kept) is None and [j.id for j in q.get_failed()] == [gone]
    dropped = q.add("j", {}, remove_on_fail=True)  # removed at once; the others keep their own retention
    assert claim_ids(q) == [dropped]
    time.sleep(0.15)
    assert q.check_stalled() == {"requeued": 0, "failed": 1}
    assert q.get_job(dropped) is None and [j.id for j in q.get_failed()] == [gone]


def test_remove_on_complete_true_removes_that_job_only(r: Any) -> None:
    """remove_on_complete=True (remove_on_fail=True) removes the job that finished, as BullMQ does; it used
    to trim the whole completed (failed) set to 0, deleting the jobs kept by their own options."""
    q = make(r)
    kept = q.add("j", {})
    kept_failed = q.add("j", {})
    gone = q.add("j", {}, remove_on_complete=True)
    gone_failed = q.add("j", {}, remove_on_fail=True)
    for (job_id, _, token, _), outcome in zip(q.claim(4)[0], ("completed", "failed", "completed", "failed")):
        q.finish(job_id, token, outcome, "1" if outcome == "completed" else "boom")
    assert q.get_job(gone) is None and q.get_job(gone_failed) is None
    assert [j.id for j in q.get_completed()] == [kept] and [j.id for j in q.get_failed()] == [kept_failed]


def test_both_queues_end_a_delivery_with_one_vocabulary_of_outcomes(r: Any) -> None:
    """A retried failure is Outcome.RETRIED and a final one Outcome.DEAD on the reliable queue and JobQueue alike."""
    from labqueue.reliable import ReliableQueue

    rq = ReliableQueue(r, "rq", max_attempts=2)
    rq.enqueue({}, job_id="a")
    assert rq.nack(rq.dequeue(), "boom", delay=0) == Outcome.RETRIED
    assert rq.nack(rq.dequeue(timeout=1), "boom") == Outcome.DEAD
    q = make(r)
    q.add("j", {}, attempts=2)
    for expected in (Outcome.RETRIED, Outcome.DEAD):
        [(job_id, _, token, _)] = q.claim(1)[0]
        assert q.finish(job_id, token, "failed", "boom") == expected
    q.add("j", {})
    [(job_id, _, token, _)] = q.claim(1)[0]
    assert q.finish(job_id, token, "completed", "1") == Outcome.COMPLETED
    assert len({int(o) for o in Outcome}) == len(Outcome)


def test_a_repeatable_jobs_runs_are_counted_from_the_servers_clock(r: Any, monkeypatch: Any) -> None:
    """A producer whose clock is an hour fast schedules a repeatable job's first and next runs by the server's TIME."""
    import types

    from labqueue import jobqueue, jobspec

    q = make(r)
    fast = types.SimpleNamespace(time=lambda: time.time() + 3600, monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr(jobspec, "time", fast)
    monkeypatch.setattr(jobqueue, "time", fast)
    job_id = q.add("tick", {}, repeat={"every": 10})
    server_now = q.server_time()
    run_at = r.zscore(q.keys.delayed, job_id)
    assert server_now < run_at <= server_now + 10, (run_at - server_now)  # not an hour ahead
    record = q.get_job(job_id)
    assert record is not None
    next_id = q.add_next_occurrence(record)
    assert next_id is not None and r.zscore(q.keys.delayed, next_id) == pytest.approx(run_at + 10)


def test_heartbeat_detects_stalled_job_by_itself(r: Any) -> None:
    """A running worker's heartbeat takes back a dead worker's job and runs it, with no manual call."""
    q = make(r, lease_seconds=0.3)
    job_id = q.add("j", {})
    assert claim_ids(q) == [job_id]
    q.process("j", lambda job: "ok", poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] == 1)
    q.close()
    assert q.get_job(job_id).stalls == 1  # type: ignore[union-attr]


def test_poison_pill_fails_after_max_stalls(r: Any) -> None:
    """A job that stalls more than max_stalled times ends in failed, not in an endless loop."""
    q = make(r, lease_seconds=0.1, max_stalled=2)
    job_id = q.add("j", {})
    for expected in ({"requeued": 1, "failed": 0}, {"requeued": 1, "failed": 0}, {"requeued": 0, "failed": 1}):
        assert claim_ids(q) == [job_id]
        time.sleep(0.15)
        assert q.check_stalled() == expected
    job = q.get_job(job_id)
    assert job is not None and job.state == "failed" and job.stalls == 3
    assert "stalled 3 times" in (job.failed_reason or "")
    assert claim_ids(q) == []


def test_stale_worker_cannot_finish_or_report(r: Any) -> None:
    """A worker whose job was taken back can neither finish it nor report progress on it."""
    q = make(r, lease_seconds=0.1)
    job_id = q.add("j", {})
    (_, _, token, _), = q.claim(1)[0]
    time.sleep(0.15)
    q.check_stalled()
    (_, _, token2, _), = q.claim(1)[0]
    assert token2 == token + 1
    assert q.finish(job_id, token, "completed", '"late"') == Outcome.NOT_OURS
    assert not q.set_progress(job_id, token, 10)
    assert q.get_job(job_id).state == "active"  # type: ignore[union-attr]



@pytest.mark.parametrize("gone", ["remove_on_complete", "obliterate", "junk counter"])
def test_a_late_call_of_an_old_delivery_does_not_touch_a_new_job_of_the_same_id(r: Any, gone: str) -> None:
    """Tokens never repeat for a queue. They were the job's delivery count (HINCRBY on `runs`), and `runs`
    goes with the job (remove_on_complete, obliterate): a job added again under the same id had token 1
    again, so a worker's finish resent after a reconnect (its first send met a dead connection, Redis may
    have applied it) completed the new job with the old result, never run. Progress, heartbeat and
    release matched it too. 'junk counter': the queue's token counter holds junk when the job comes back."""
    q = make(r, lease_seconds=30)
    q.add("j", {"n": 1}, job_id="x", remove_on_complete=True)
    (_, _, old, _), = q.claim(1)[0]
    late = ("x", old, "completed", '"old result"', 0.0, 0.0, "j")
    if gone == "remove_on_complete":
        assert q.finish_many([late]) == [Outcome.COMPLETED]  # applied; the worker never heard back
    else:
        q.obliterate()
    if gone == "junk counter":
        r.hset(q.keys.meta, "token", "junk")
    assert q.get_job("x") is None and q.add("j", {"n": 2}, job_id="x", remove_on_complete=True) == "x"
    (_, _, new, _), = q.claim(1)[0]
    assert new != old, f"token {new} handed out twice for job x"
    assert q.finish_many([late]) == [Outcome.NOT_OURS], "the resent finish ended the new job x"
    assert not q.set_progress("x", old, 50) and q.extend_leases([("x", old)]) == 0
    assert q.release(SimpleNamespace(id="x", token=old)) == Outcome.NOT_OURS  # type: ignore[arg-type]
    job = q.get_job("x")
    assert job is not None and (job.state, job.data, job.progress, job.return_value) == ("active", {"n": 2}, 0, None)
    assert q.finish("x", new, "completed", '"new result"') == Outcome.COMPLETED
    assert q.get_job("x") is None and q.get_job_counts()["active"] == 0

def test_rate_limit_across_two_workers(r: Any, make_client: Any) -> None:
    """With max 3 per 0.4 s, no 0.4 s window holds more than 3 deliveries, across two workers."""
    limiter = {"max": 3, "duration": 0.4}
    q1 = make(r, limiter=limiter)
    q2 = make(make_client(), limiter=limiter)
    q1.add_bulk([("j", {"i": i}) for i in range(12)])
    starts: list[float] = []
    lock = threading.Lock()

    def handler(job: ActiveJob) -> None:
        with lock:
            starts.append(job.processed_on)

    q1.process("j", handler, concurrency=2, poll_seconds=0.05)
    q2.process("j", handler, concurrency=2, poll_seconds=0.05)
    wait_for(lambda: q1.get_job_counts()["completed"] == 12)
    q1.close()
    q2.close()
    t = sorted(starts)
    assert len(t) == 12
    assert all(t[i + 3] - t[i] >= 0.4 - 1e-6 for i in range(len(t) - 3)), t  # 4 in a row span a window
    assert q1.worker is None and r.zcard(q1.keys.limiter) <= 3


def test_job_timeout_fails_the_job(r: Any) -> None:
    """A job running past its timeout is failed with a TimeoutError; the worker goes on."""
    q = make(r)
    slow = q.add("slow", {}, timeout=0.2)
    fast = q.add("fast", {})
    q.process("slow", lambda job: job.cancelled.wait(5), poll_seconds=0.05)
    q.process("fast", lambda job: "quick")
    wait_for(lambda: q.get_job_counts()["failed"] == 1 and q.get_job_counts()["completed"] == 1)
    q.close()
    assert "TimeoutError" in (q.get_job(slow).failed_reason or "")  # type: ignore[union-attr]
    assert q.get_job(fast).return_value == "quick"  # type: ignore[union-attr]


def test_handler_errors_are_the_jobs(r: Any) -> None:
    """No handler for a name, or a return value that is not JSON, fails the job with a clear reason."""
    q = make(r)
    orphan = q.add("unknown", {})
    weird = q.add("weird", {})
    q.process("weird", lambda job: {1, 2}, poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["failed"] == 2)
    q.close()
    assert "no handler for job name 'unknown'" in (q.get_job(orphan).failed_reason or "")  # type: ignore[union-attr]
    assert "not JSON-serialisable" in (q.get_job(weird).failed_reason or "")  # type: ignore[union-attr]


def test_memory_bounded_with_remove_on_complete(r: Any) -> None:
    """After 150 jobs with remove_on_complete=10 / remove_on_fail=5, only 15 jobs stay in Redis."""
    q = make(r, default_job_options={"remove_on_complete": 10, "remove_on_fail": 5})
    q.add_bulk([("ok" if i % 3 else "bad", {"i": i}) for i in range(150)])
    q.process("ok", lambda job: job.data["i"], concurrency=2, poll_seconds=0.05)
    q.process("bad", lambda job: 1 / 0)
    wait_for(lambda: r.hget(q.keys.metrics, "total_dequeued") == "150" and not r.zcard(q.keys.active))
    q.close()
    assert r.zcard(q.keys.completed) == 10 and r.zcard(q.keys.failed) == 5
    for h in ("jobs", "runs", "made", "results", "errors"):
        assert r.hlen(getattr(q.keys, h)) <= 15, h
    assert r.dbsize() <= len(q.keys.all())
    q2 = make(r, "gone", default_job_options={"remove_on_complete": True})
    q2.add_bulk([("ok", {"i": i}) for i in range(50)])
    for job_id, _, token, _ in q2.claim(50)[0]:
        q2.finish(job_id, token, "completed", "1")
    assert r.hlen(q2.keys.jobs) == 0 and r.hlen(q2.keys.runs) == 0


def test_repeat_every_runs_and_stops(r: Any) -> None:
    """A repeatable job runs on schedule, one occurrence at a time, until removed."""
    q = make(r)
    first = q.add("tick", {}, repeat={"every": 0.15}, job_id="ticker")
    assert first.startswith("repeat:ticker:") and q.repeatables() == {"ticker": first}
    assert q.add("tick", {}, repeat={"every": 0.15}, job_id="ticker") == first  # dedup
    q.process("tick", lambda job: job.id, poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] >= 3)
    assert q.remove_repeatable("ticker") and not q.remove_repeatable("ticker")
    q.close()
    done = q.get_job_counts()["completed"]
    assert q.get_job_counts()["delayed"] == 0 and q.repeatables() == {}
    ids = [j.id for j in q.get_completed()]
    assert len(set(ids)) == done and all(i.startswith("repeat:ticker:") for i in ids)


def started_occurrence(q: JobQueue) -> str:
    """Add the schedule 'ticker' (every 0.05 s) and claim its first occurrence once due: its id. Its next
    occurrence is not scheduled yet (a worker's _start would do that now, before running it)."""
    q.add("tick", {}, repeat={"every": 0.05}, job_id="ticker")
    [job_id] = wait_for(lambda: claim_ids(q, 1))
    return str(job_id)


def moved_aside(q: JobQueue, r: Any, key: str) -> None:
    """Junk over one key of `q` (a string where a hash belongs), moved aside as a worker meeting it does."""
    from labqueue.quarantine import quarantine_wrong_types

    r.delete(getattr(q.keys, key))
    r.set(getattr(q.keys, key), "oops")
    assert quarantine_wrong_types(q) == [getattr(q.keys, key)]


@pytest.mark.parametrize("lost", ["repeat", "repeat_copy"])
def test_a_schedule_goes_on_when_a_key_that_records_it_is_moved_aside(r: Any, lost: str) -> None:
    """`repeat` (schedule key -> its pending occurrence) held junk and was moved aside (quarantine): jq_add.lua
    added a next occurrence only while that hash named the schedule, so every schedule ended at its next
    run, silently, and remove_repeatable() no longer found it. Each schedule is recorded in two hashes
    now, written and removed together: it goes on while either names it, and is found to be removed."""
    q = make(r)
    running = started_occurrence(q)
    moved_aside(q, r, lost)
    nxt = q.add_next_occurrence(q.get_job(running))  # type: ignore[arg-type]
    assert nxt is not None, "the schedule ended when its key was moved aside"
    assert q.get_job(nxt).state == "delayed" and q.repeatables() == {"ticker": nxt}  # type: ignore[union-attr]
    assert r.hgetall(q.keys.repeat) == r.hgetall(q.keys.repeat_copy) == {"ticker": nxt}  # both written again
    moved_aside(q, r, lost)  # again, before that occurrence runs
    assert q.repeatables() == {"ticker": nxt}
    assert q.remove_repeatable("ticker") and q.get_job(nxt) is None and q.repeatables() == {}
    assert q.add_next_occurrence(q.get_job(running)) is None  # a retry of the running one: no new schedule
    assert q.get_job_counts()["delayed"] == 0


@pytest.mark.parametrize("lost", ["repeat", "repeat_copy"])
def test_a_removed_schedule_stays_removed_when_a_key_that_recorded_it_is_moved_aside(r: Any, lost: str) -> None:
    """remove_repeatable() while an occurrence is running (or will be retried): it asks for its next run
    later; a key moved aside in between never brings the schedule back."""
    q = make(r)
    running = started_occurrence(q)
    assert q.remove_repeatable("ticker")
    moved_aside(q, r, lost)
    assert q.add_next_occurrence(q.get_job(running)) is None  # type: ignore[arg-type]
    assert q.repeatables() == {} and q.get_job_counts()["delayed"] == 0
    assert not q.remove_repeatable("ticker")


def test_repeat_cron_schedules_next_occurrence_in_time_zone(r: Any) -> None:
    """A cron repeat is delayed until the next occurrence in its time zone (cron.next_run)."""
    q = make(r)
    before = time.time()
    job_id = q.add("daily-report", {"recipients": ["admin@example.com"]},
                   repeat={"cron": "0 9 * * *", "tz": "Europe/Paris"})
    run_at = r.zscore(q.keys.delayed, job_id)
    assert abs(run_at - cron.next_run("0 9 * * *", "Europe/Paris", before)) < 1e-3
    assert q.get_job(job_id).state == "delayed"  # type: ignore[union-attr]


def test_empty_cases(r: Any) -> None:
    """Every script's empty case: claim, stalled, retry, clean, list on an empty queue do nothing."""
    q = make(r)
    assert q.claim(5)[0] == [] and q.check_stalled() == {"requeued": 0, "failed": 0}
    assert q.retry_failed() == 0 and q.clean(0, "failed") == [] and q.get_jobs("failed") == []
    assert q.get_job("1") is None and not q.remove_repeatable("x")
    assert q.get_job_counts() == dict.fromkeys(("waiting", "active", "delayed", "completed", "failed", "paused"), 0)
    assert r.dbsize() == 0


# -- on-time wake-ups: delayed jobs, Redis's coarse blocking timeouts, the heartbeat ----------------
def test_earlier_delayed_job_wakes_a_worker_later_one_does_not(r: Any) -> None:
    """jq_add pushes the marker for a delayed job due before every other delayed job, and only then."""
    q = make(r)
    marker = q.keys.marker
    q.add("j", {}, delay=10)
    assert r.llen(marker) == 1  # nothing delayed before: an idle worker must re-plan its wait
    assert claim_ids(q) == [] and r.llen(marker) == 0  # the claim reads the next due time, clears it
    q.add("j", {}, delay=20)
    assert r.llen(marker) == 0  # later than the next due job: the workers' plan still holds
    q.add_bulk([("j", {}, {"delay": 30}), ("j", {}, {"delay": 5}), ("j", {}, {"delay": 8})])
    assert r.llen(marker) == 1  # one wake-up for the batch, for its job due before all others


def test_delayed_retry_due_first_wakes_a_worker(r: Any) -> None:
    """jq_finish pushes the marker for a backoff retry due before every other delayed job, only then."""
    q = make(r)
    marker = q.keys.marker
    q.add("late", {}, delay=60)
    first, second = q.add("j", {}, attempts=3), q.add("j", {}, attempts=3)
    (id1, _, token1, _), (id2, _, token2, _) = q.claim(2)[0]
    assert r.llen(marker) == 0
    assert q.finish(id1, token1, "failed", "boom", retry_in=10) == Outcome.RETRIED
    assert r.llen(marker) == 1 and r.zscore(q.keys.delayed, first) is not None
    r.delete(marker)
    assert q.finish(id2, token2, "failed", "boom", retry_in=30) == Outcome.RETRIED
    assert r.llen(marker) == 0  # the first retry is due sooner: no need to wake anyone
    assert {id1, id2} == {first, second}


class _BrpopLog:
    """A client proxy that records (call time, timeout) of every BRPOP, and passes everything through."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, []  # type: list[tuple[float, float]]

    def brpop(self, keys: Any, timeout: float = 0) -> Any:
        self.calls.append((time.time(), float(timeout)))
        return self.client.brpop(keys, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_delayed_job_runs_on_time_on_an_idle_worker(r: Any) -> None:
    """A job delayed 0.3 s, added while the only worker sleeps a 5 s poll, runs within 2 s, not before."""
    q = make(r)
    proxy = _BrpopLog(r)
    q.redis = proxy
    ran: list[float] = []
    q.process("j", lambda job: ran.append(time.time()), poll_seconds=5)
    wait_for(lambda: proxy.calls)  # the worker found nothing and sleeps in BRPOP (up to 5 s)
    time.sleep(0.1)
    added = time.time()
    q.add("j", {}, delay=0.3)
    wait_for(lambda: q.get_job_counts()["completed"] == 1, timeout=2.0)
    q.close()
    assert ran[0] - added >= 0.29 and q.get_job_counts()["completed"] == 1


def test_worker_never_blocks_in_redis_into_the_last_hz_slack(r: Any) -> None:
    """Every BRPOP ends HZ_SLACK before the next due job (Redis fires timeouts only at hz); the job runs."""
    from labqueue.threads import HZ_SLACK

    q = make(r)
    proxy = _BrpopLog(r)
    q.redis = proxy
    q.add("j", {}, job_id="d", delay=0.6)
    due = float(r.zscore(q.keys.delayed, "d"))  # due 0.6 s after the server ran the add (TIME)
    q.process("j", lambda job: "ok", poll_seconds=5)
    wait_for(lambda: q.get_job_counts()["completed"] == 1, timeout=3.0)
    q.close()
    before_due = [(t, w) for t, w in proxy.calls if t < due]
    assert before_due, "the worker never waited in Redis"
    assert all(t + w <= due - HZ_SLACK + 0.011 for t, w in before_due), (due, before_due)


def test_check_stalled_reports_the_earliest_running_lease(r: Any) -> None:
    """jq_stalled returns the earliest lease deadline still running ('' / None when none)."""
    q = make(r, lease_seconds=5)
    assert q.check_stalled_and_next() == ({"requeued": 0, "failed": 0}, None)
    q.add("j", {}, job_id="a")
    q.add("j", {}, job_id="b")
    claim_ids(q, 2)
    r.zadd(q.keys.active, {"b": time.time() + 1.5}, xx=True)
    found, deadline = q.check_stalled_and_next()
    # on this process's clock (converted from the server's): equal here, up to the round trip
    assert found == {"requeued": 0, "failed": 0} and deadline == pytest.approx(r.zscore(q.keys.active, "b"), abs=0.05)


def test_heartbeat_takes_back_a_dead_workers_job_at_its_deadline(r: Any) -> None:
    """With a 6 s lease (2 s heartbeat), a job whose lease ends in 0.4 s is redelivered within 1.5 s."""
    q = make(r, lease_seconds=6)
    job_id = q.add("j", {})
    assert claim_ids(q) == [job_id]  # a worker took it and died, its lease nearly over:
    start = time.time()
    r.zadd(q.keys.active, {job_id: start + 0.4}, xx=True)
    q.process("j", lambda job: "ok", poll_seconds=5)
    wait_for(lambda: q.get_job_counts()["completed"] == 1, timeout=1.5)
    q.close()
    job = q.get_job(job_id)
    assert job is not None and job.stalls == 1 and job.finished_on is not None and job.finished_on >= start + 0.4


# -- events and other processes --------------------------------------------------------------------
@pytest.fixture
def url(r: Any, backend: str, request: pytest.FixtureRequest) -> Any:
    """A redis:// URL to the same data as `r`: the private server, or the fake one served over TCP."""
    if backend in ("real", "cluster"):
        yield request.getfixturevalue("redis_server" if backend == "real" else "redis_cluster").url
        return
    from fakeredis import TcpFakeServer

    tcp = TcpFakeServer(("127.0.0.1", 0))
    tcp.fake_server = r.connection_pool.connection_kwargs["server"]
    thread = threading.Thread(target=tcp.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{tcp.server_address[1]}/0"
    tcp.shutdown()
    tcp.server_close()
    thread.join(5)


def test_events_in_process(r: Any) -> None:
    """A listener in this process receives completed, failed, progress and stalled events."""
    from labqueue.events import QueueEvents

    q = make(r, lease_seconds=0.2)
    got: list[tuple[str, str]] = []
    listener = QueueEvents(r, "jobs", block_seconds=0.05)
    for kind in ("completed", "failed", "progress", "stalled"):
        listener.on(kind, lambda e: got.append((e.event, e.job_id)))
    listener.start()
    stalled = q.add("j", {"stall": True})
    assert claim_ids(q) == [stalled]
    ok, bad = q.add("j", {}), q.add("j", {"bad": True})
    time.sleep(0.25)

    def handler(job: ActiveJob) -> str:
        job.progress(30)
        if job.data.get("bad"):
            raise ValueError("bad input")
        return "ok"

    q.process("j", handler, poll_seconds=0.05)
    wait_for(lambda: ("completed", stalled) in got and ("failed", bad) in got and ("completed", ok) in got)
    q.close()
    listener.close()
    assert ("stalled", stalled) in got and ("progress", ok) in got
    assert got.index(("stalled", stalled)) < got.index(("completed", stalled))


def test_events_replay_from_the_stream(r: Any) -> None:
    """A listener started after the facts replays them from the stream (pub/sub would have lost them)."""
    from labqueue.events import QueueEvents

    q = make(r)
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    for job_id, _, token, _ in q.claim(3)[0]:
        q.finish(job_id, token, "completed", f'{{"n":{job_id}}}')
    late = QueueEvents(r, "jobs", last_id="0")
    events = late.poll(block_ms=10)
    assert [(e.event, e.result) for e in events] == [("completed", {"n": 1}), ("completed", {"n": 2}),
                                                    ("completed", {"n": 3})]
    assert late.poll(block_ms=10) == [] and len(late.replay()) == 3


def test_events_caught_up_waits_for_the_last_callback(r: Any) -> None:
    """caught_up() returns once every event written before the call has been dispatched to its callbacks."""
    from labqueue.events import QueueEvents

    q = make(r)
    got: list[str] = []

    def slow(event: Any) -> None:
        time.sleep(0.3)  # a callback still running must not count as read
        got.append(event.job_id)

    listener = QueueEvents(r, "jobs", block_seconds=0.05).on("completed", slow).start()
    try:
        q.add_bulk([("j", {"i": i}) for i in range(3)])
        for job_id, _, token, _ in q.claim(3)[0]:
            q.finish(job_id, token, "completed", "1")
        assert listener.caught_up(timeout=10)
        assert len(got) == 3, f"caught_up() returned with {len(got)} of 3 callbacks done"
        assert QueueEvents(r, "jobs", last_id="0").caught_up(timeout=0.2) is False  # nobody reads for it
    finally:
        listener.close()


@pytest.mark.parametrize("bad", [2.5, math.inf, math.nan, 0, -1, True, "2", None, 2**63])
def test_replay_with_a_count_that_is_no_count_is_a_clear_error(r: Any, bad: Any) -> None:
    """QueueEvents.replay(count=...) sent count to XRANGE unchecked: 2.5 came back as Redis's 'value is not an
    integer', 0 and -1 as redis-py's DataError, True as one event. A ConfigError naming count now."""
    from labqueue.events import QueueEvents

    q = make(r)
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    for job_id, _, token, _ in q.claim(3)[0]:
        q.finish(job_id, token, "completed", "1")
    events = QueueEvents(r, "jobs", last_id="0")
    with pytest.raises(ConfigError, match=r"count must be an integer from 1 to 9223372036854775807, got "):
        events.replay(count=bad)
    assert len(events.replay(count=2)) == 2 and len(events.replay(count=2**63 - 1)) == 3


def test_obliterate_also_removes_the_dead_letters_and_keys_moved_aside(r: Any) -> None:
    """obliterate() deleted only the jq:* keys: the dead-letter entry a JobQueue worker's quarantine writes
    (dlq, dlq:meta), the key it moved aside (quarantine:<n>) and its counter survived it. Every key of the
    queue goes now, and nothing of another queue."""
    from labqueue.quarantine import quarantine_wrong_types

    q, other = make(r, "wipe"), make(r, "keep")
    q.add("j", {"n": 1}, repeat={"every": 60}, job_id="ticker")
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    other.add("j", {"n": 2})
    r.set(q.keys.repeat, "oops")  # what a worker meeting WRONGTYPE moves aside (quarantine_wrong_types)
    assert quarantine_wrong_types(q) == [q.keys.repeat]
    assert r.hlen(q.keys.dlq) == 1 and r.hlen(q.keys.dlq_meta) == 1 and r.get(q.keys.quarantine_seq) == "1"
    before = sorted(r.scan_iter(match="lq:{wipe}:*"))  # every node of a cluster (KEYS asks one)
    assert q.keys.quarantine(1) in before
    assert q.obliterate() == len(before)
    assert list(r.scan_iter(match="lq:{wipe}:*")) == []
    assert other.get_job("1") is not None and other.get_job_counts()["waiting"] == 1

def json_lines(child: Any) -> Any:
    """A queue.Queue fed with the JSON lines a child process prints (read in a thread, so never stuck)."""
    import json
    import queue

    lines: queue.Queue[Any] = queue.Queue()

    def pump() -> None:
        for line in child.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_events_reach_a_listener_in_another_process(r: Any, url: str) -> None:
    """A listener in another process (python -m labqueue.events) sees the completed and failed events."""
    import subprocess
    import sys

    q = make(r)
    child = subprocess.Popen([sys.executable, "-m", "labqueue.events", url, "jobs"],
                             stdout=subprocess.PIPE, text=True)
    try:
        out = json_lines(child)
        assert out.get(timeout=30)["event"] == "listening"
        good, bad = q.add("j", {}), q.add("j", {"bad": True})
        for job_id, _, token, _ in q.claim(2)[0]:
            q.finish(job_id, token, "failed" if job_id == bad else "completed", "boom" if job_id == bad else "7")
        lines = [out.get(timeout=10) for _ in range(2)]
    finally:
        child.kill()
        child.wait()
    assert [(e["event"], e["job"]) for e in lines] == [("completed", good), ("failed", bad)]
    assert lines[0]["result"] == "7" and lines[1]["error"] == "boom"


CHILD_WORKER = """
import sys, time
from labqueue import connect
from labqueue.jobqueue import JobQueue
q = JobQueue(connect(sys.argv[1]), "jobs", lease_seconds=0.5)
q.process("j", lambda job: time.sleep(60), poll_seconds=0.05)
time.sleep(60)
"""


def test_killed_worker_process_job_is_redelivered(r: Any, url: str) -> None:
    """kill -9 of a worker process mid-job: its job is detected as stalled and run by another worker."""
    import subprocess
    import sys

    q = make(r, lease_seconds=0.5)
    job_id = q.add("j", {"important": True})
    child = subprocess.Popen([sys.executable, "-c", CHILD_WORKER, url])
    try:
        wait_for(lambda: q.get_job_counts()["active"] == 1, timeout=30)
    finally:
        child.kill()
        child.wait()
    q.process("j", lambda job: "rescued", poll_seconds=0.05)
    wait_for(lambda: q.get_job_counts()["completed"] == 1)
    q.close()
    job = q.get_job(job_id)
    assert job is not None and job.return_value == "rescued" and job.stalls == 1


def test_backoff_options_kept_whole(r: Any) -> None:
    """A job's backoff keeps its factor, cap and jitter: what is stored is the policy the worker applies."""
    spec = {"type": "exponential", "delay": 1, "factor": 3, "jitter": "full", "cap": 2}
    q = make(r)
    job = q.get_job(q.add("email", {"to": "a"}, backoff=spec))
    assert job is not None
    from labqueue.retry import Backoff

    stored = Backoff.from_spec(job.opts["backoff"])
    assert stored == Backoff.from_spec(spec), job.opts["backoff"]
    assert all(stored.delay(10) <= 2 for _ in range(50)), "the cap of 2 s was dropped"


# -- a failing script leaves nothing half-done (issue 10, item 12) -------------------------------------
def snapshot(r: Any) -> dict[Any, Any]:
    return {k: r.dump(k) for k in r.keys("*")}


def refused_whole(r: Any, call: Any, match: str = "WRONGTYPE") -> None:
    """`call()` raises a Redis error matching `match`, and every key is byte-for-byte as before."""
    import redis

    before = snapshot(r)
    with pytest.raises(redis.ResponseError, match=match):
        call()
    assert snapshot(r) == before


def _claimed(q: JobQueue) -> tuple[str, int]:
    q.add("email", {"to": "a"})
    [(job_id, _, token, _)] = q.claim(1)[0]
    return job_id, token


@pytest.mark.parametrize("operation, broken", [
    ("add", "wait"), ("add priority", "prio"), ("add", "metrics"), ("claim", "active"), ("claim", "runs"),
    ("finish completed", "results"), ("finish failed", "errors"), ("finish completed", "events"),
    ("progress", "events"), ("stalled", "failed"), ("retry failed", "wait"), ("clean", "events"),
    ("unrepeat", "wait"),
])
def test_a_script_that_meets_a_wrong_typed_key_writes_nothing(r: Any, operation: str, broken: str) -> None:
    """A JobQueue script refuses a wrong-typed key before its first write: no job popped, moved or lost."""
    q = make(r, max_stalled=0, lease_seconds=0.05)
    if operation == "add":
        call = lambda: q.add("email", {"to": "b"})  # noqa: E731
    elif operation == "add priority":
        call = lambda: q.add("email", {"to": "b"}, priority=3)  # noqa: E731
    elif operation == "claim":
        q.add("email", {"to": "a"})
        call = lambda: q.claim(1)  # noqa: E731
    elif operation.startswith("finish"):
        job_id, token = _claimed(q)
        outcome = operation.split()[1]
        call = lambda: q.finish(job_id, token, outcome, '"x"', name="email")  # noqa: E731
    elif operation == "progress":
        job_id, token = _claimed(q)
        call = lambda: q.set_progress(job_id, token, 50)  # noqa: E731
    elif operation == "stalled":
        _claimed(q)
        time.sleep(0.1)  # the lease expires: the job stalled more than max_stalled = 0 times
        call = q.check_stalled
    elif operation == "retry failed":
        job_id, token = _claimed(q)
        q.finish(job_id, token, "failed", "boom", name="email")
        call = q.retry_failed
    elif operation == "clean":
        job_id, token = _claimed(q)
        q.finish(job_id, token, "completed", "1", name="email")
        call = lambda: q.clean(0, "completed")  # noqa: E731
    else:
        q.add("report", {}, repeat={"every": 60}, job_id="hourly")
        call = lambda: q.remove_repeatable("hourly")  # noqa: E731
    r.delete(getattr(q.keys, broken))
    r.set(getattr(q.keys, broken), "overwritten by someone else")
    refused_whole(r, call, match=f"WRONGTYPE.*{broken}")


def test_an_unreadable_job_record_does_not_make_claim_or_finish_fail_midway(r: Any) -> None:
    """A job whose stored JSON is junk is still promoted, claimed and finished: never dropped halfway."""
    q = make(r)
    job_id = q.add("email", {"to": "a"}, delay=0.05)
    r.hset(q.keys.jobs, job_id, "{not json")
    time.sleep(0.1)
    [(claimed, raw, token, _)] = wait_for(lambda: q.claim(1)[0])
    assert claimed == job_id and raw == "{not json"
    assert q.finish(job_id, token, "failed", "unreadable job", name="email") == Outcome.DEAD
    assert r.zscore(q.keys.failed, job_id) is not None


@pytest.mark.parametrize("bad", [{"retry_in": math.nan}, {"duration": math.inf}, {"token": "x"}])
def test_finish_with_a_bad_number_is_refused_before_any_write(r: Any, bad: dict[str, Any]) -> None:
    """finish() with a NaN retry delay, an infinite duration or a non-integer token raises; nothing written."""
    q = make(r)
    job_id, token = _claimed(q)
    kwargs = {"retry_in": 0.0, "duration": 0.1, **bad}
    token = kwargs.pop("token", token)
    before = snapshot(r)
    with pytest.raises(ValueError):
        q.finish(job_id, token, "failed", "boom", name="email", **kwargs)
    assert snapshot(r) == before


# -- junk inside a hash never makes a script fail after its first write (the job would be in no state) --
@pytest.mark.parametrize("operation, key, field", [
    ("add", "metrics", "total_enqueued"), ("add priority", "meta", "pseq"),
    ("claim", "metrics", "total_dequeued"), ("claim", "runs", "{id}"), ("claim", "made", "{id}"),
    ("finish completed", "metrics", "total_succeeded"), ("finish completed", "metrics", "total_duration_ms"),
    ("finish completed", "metrics", "hist_sum:email"), ("finish failed", "metrics", "total_failed"),
    ("finish failed", "made", "{id}"), ("finish completed", "events", "exhausted"),
    ("stalled", "stalls", "{id}"), ("stalled", "metrics", "total_failed"), ("retry failed", "meta", "pseq"),
])
def test_junk_in_a_counter_or_the_event_stream_never_loses_the_job(r: Any, operation: str, key: str,
                                                                   field: str) -> None:
    """A counter field holding junk (HINCRBY: 'not an integer') or an event stream that cannot take another
    entry made jq_finish/claim/stalled/add fail after they had moved the job: it was in no state at all
    (finish removed it from active, add stored it in no list). The counter restarts, the event is skipped,
    the job moves. On the old code every case loses or strands the job."""
    q = make(r, max_stalled=0, lease_seconds=0.05)
    prio = {"priority": 3} if operation in ("add priority", "retry failed") else {}
    job_id = "j1"

    def junk() -> None:
        if field == "exhausted":  # a stream whose last id is the largest there is: XADD * cannot add
            r.delete(q.keys.events)
            r.xadd(q.keys.events, {"x": "1"}, id="18446744073709551615-18446744073709551615")
        else:
            r.hset(getattr(q.keys, key), field.format(id=job_id), "junk")

    if operation.startswith("add"):
        junk()
        q.add("email", {"to": "a"}, job_id=job_id, **prio)
        assert q.get_job_counts()["waiting"] == 1 and claim_ids(q) == [job_id]
        return
    q.add("email", {"to": "a"}, job_id=job_id, **prio)
    if operation == "claim":
        junk()
        [(claimed, _, token, made)] = q.claim(1)[0]
        assert (claimed, made) == (job_id, 0) and q.get_job_counts()["active"] == 1
        assert q.finish(job_id, token, "completed", "1", name="email") == Outcome.COMPLETED
        return
    [(_, _, token, _)] = q.claim(1)[0]
    if operation.startswith("finish"):
        junk()
        outcome = operation.split()[1]
        q.finish(job_id, token, outcome, '"x"', name="email")
        assert q.get_job_counts()[outcome] == 1, q.get_job_counts()
    elif operation == "stalled":
        junk()
        time.sleep(0.1)  # the lease expires: stalled more than max_stalled = 0 times, the job fails
        q.check_stalled()
        assert q.get_job_counts()["failed"] == 1, q.get_job_counts()
    else:
        q.finish(job_id, token, "failed", "boom", name="email")
        junk()
        assert q.retry_failed() == 1 and q.get_job_counts()["waiting"] == 1 and claim_ids(q) == [job_id]


def test_a_junk_job_counter_refuses_add_whole_and_events_maxlen_is_bounded(r: Any) -> None:
    """The id counter cannot restart (new ids would be those of live jobs: a dedup no-op, a silent loss),
    so add refuses before any write; events_maxlen beyond XADD's range is a ConfigError."""
    q = make(r)
    r.hset(q.keys.meta, "id", "junk")
    refused_whole(r, lambda: q.add("email", {"to": "a"}), match="jq_add: .* field id holds")
    with pytest.raises(ConfigError, match="events_maxlen must be"):
        make(r, events_maxlen=2**63)


def test_a_timeout_longer_than_thread_join_takes_is_refused(r: Any) -> None:
    """A job timeout (or the reliable Worker's job_timeout) of 1e10 s was accepted, then Thread.join raised
    OverflowError in the worker after the claim, every time: the job stayed active until it stalled, again
    and again. Beyond threading.TIMEOUT_MAX it is refused up front, naming the option; nothing written."""
    import threading

    from labqueue import ReliableQueue, Worker

    q = make(r)
    with pytest.raises(InvalidJob, match="option 'timeout'"):
        q.add("email", {"to": "a"}, timeout=1e10)
    assert q.get_job_counts()["waiting"] == 0
    job_id = q.add("email", {"to": "a"}, timeout=threading.TIMEOUT_MAX)  # the largest that works
    assert q.get_job(job_id) is not None
    with pytest.raises(ConfigError, match="job_timeout must be"):
        Worker(ReliableQueue(r, "jt"), {}, job_timeout=1e10)


def test_progress_and_clean_answer_truly_when_the_event_stream_is_full(r: Any) -> None:
    """With an event stream at its last possible id, set_progress stored the progress then raised (the
    handler failed a job that had progressed) and clean deleted the jobs then raised (the caller was told
    nothing was cleaned). The event is skipped; both return what they did."""
    q = make(r)
    job_id, token = _claimed(q)
    r.delete(q.keys.events)
    r.xadd(q.keys.events, {"x": "1"}, id="18446744073709551615-18446744073709551615")
    assert q.set_progress(job_id, token, 40) is True
    assert q.get_job(job_id).progress == 40
    q.finish(job_id, token, "completed", "1", name="email")
    assert q.clean(0, "completed") == [job_id] and q.get_job(job_id) is None


def test_retry_failed_refuses_a_negative_or_fractional_limit(r: Any) -> None:
    """retry_failed(limit=-3) ran ZRANGE failed 0 -4 and retried all but the newest 3 (7 of 10): a wrong
    answer to 'up to -3'. A negative, fractional or huge limit is a ConfigError naming it; nothing moves."""
    q = make(r)
    for i in range(4):
        q.add("email", {"i": i})
    for job_id, _, token, _ in q.claim(4)[0]:
        q.finish(job_id, token, "failed", "boom", name="email")
    for bad in (-3, 2.5, 2**63):
        with pytest.raises(ConfigError, match="limit must be an integer"):
            q.retry_failed(limit=bad)
    assert q.get_job_counts()["failed"] == 4
    assert q.retry_failed(limit=1) == 1 and q.retry_failed(limit=0) == 3  # 0: all, as clean's limit


def test_add_after_the_server_forgot_its_scripts(r: Any) -> None:
    """add's direct EVALSHA falls back to EVAL when the server does not know jq_add.lua (SCRIPT FLUSH,
    a restart): the job is added once, and the next add is one EVALSHA again."""
    q = make(r)
    q.add("email", {"i": 0})
    r.script_flush()
    with count_round_trips(r) as trips:
        job_id = q.add("email", {"i": 1})
    assert trips.commands["EVAL"] == 1 and q.get_job(job_id).data == {"i": 1}
    assert q.get_job_counts()["waiting"] == 2
    with count_round_trips(r) as trips:
        q.add("email", {"i": 2})
    assert dict(trips.commands) == {"EVALSHA": 1}


def test_default_job_options_are_read_only_once_the_queue_is_built(r: Any) -> None:
    """The defaults are checked and normalised when the queue is built: changing them afterwards would be
    silently ignored by add(), so the mapping refuses the change instead."""
    q = JobQueue(r, "ro-defaults", default_job_options={"attempts": 2})
    with pytest.raises(TypeError):
        q.default_job_options["attempts"] = 5  # type: ignore[index]
    assert dict(q.default_job_options) == {"attempts": 2}


def test_a_job_id_with_a_lone_surrogate_or_a_non_string_lookup_is_a_clear_error(r: Any) -> None:
    """add(job_id='\\udce9') was redis-py's UnicodeEncodeError mid-call; get_job(None) its DataError."""
    q = make(r)
    with pytest.raises(InvalidJob, match="job_id.*lone surrogate"):
        q.add("email", {"to": "a"}, job_id="caf\udce9")
    assert q.get_job_counts()["waiting"] == 0
    with pytest.raises(ConfigError, match="get_job.*None"):
        q.get_job(None)  # type: ignore[arg-type]
    job_id = q.add("email", {"to": "a"})
    assert q.get_job(int(job_id)).id == job_id


# -- one Worker for every queue kind (issue 14): JobQueue.process() runs labqueue.Worker -------------
def test_process_returns_the_one_worker_with_prefetch(r: Any) -> None:
    """process() starts a labqueue.Worker; with prefetch it claims a batch in one jq_claim and runs all of it."""
    from labqueue.worker import Worker

    q = make(r)
    q.add_bulk([("j", {"i": i}) for i in range(20)])
    seen: list[int] = []
    worker = q.process("j", lambda job: seen.append(job.data["i"]), prefetch=5, poll_seconds=0.05)
    assert isinstance(worker, Worker) and worker is q.worker
    wait_for(lambda: q.get_job_counts()["completed"] == 20)
    q.close()
    assert sorted(seen) == list(range(20)) and worker.stats["succeeded"] == 20


def test_graceful_stop_releases_the_prefetched_rest_uncounted(r: Any) -> None:
    """stop() finishes the JobQueue job in hand; the batch's rest goes back to waiting (jq_release.lua), no
    attempt counted, no limiter slot kept."""
    q = make(r, limiter={"max": 100, "duration": 60})
    ids = q.add_bulk([("slow", {"i": i}) for i in range(5)])
    started = threading.Event()

    def slow(job: ActiveJob) -> str:
        started.set()
        time.sleep(0.3)
        return "done"

    q.process("slow", slow, prefetch=5, poll_seconds=0.05)
    assert started.wait(5)
    q.close()
    counts = q.get_job_counts()
    assert counts["completed"] == 1 and counts["waiting"] == 4 and counts["active"] == 0
    assert r.zcard(q.keys.limiter) == 1
    rest = [q.get_job(i) for i in ids[1:]]
    assert all(job.state == "waiting" and job.attempts_made == 0 for job in rest)  # type: ignore[union-attr]
    assert claim_ids(q, 1) == [ids[1]]  # first in line again


def test_release_of_a_delivery_not_ours_changes_nothing(r: Any) -> None:
    """jq_release.lua: a stale token, or a job not active, is NOT_OURS and nothing is written."""
    q = make(r)
    job_id = q.add("j", {})
    (jid, raw, token, made), = q.claim(1)[0]
    job = q._start(jid, raw, token, made, processed_on=0.0)
    assert job is not None
    stale = q._start(jid, raw, token + 1, made, processed_on=0.0)
    assert q.release(stale) == Outcome.NOT_OURS and q.get_job(job_id).state == "active"  # type: ignore[arg-type,union-attr]
    assert q.release(job) == Outcome.RELEASED and q.get_job(job_id).state == "waiting"  # type: ignore[union-attr]
    assert q.release(job) == Outcome.NOT_OURS and r.llen(q.keys.wait) == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_finish_that_meets_a_dead_connection_is_sent_again_not_lost(r: Any, when: str) -> None:
    """The connection drops as a worker finishes a job (before the script reached Redis, or after it ran
    and before the reply came back): the worker reconnects and finishes it then. The job ran once, ends
    completed with its result and never stalls (before the fix its result was dropped, the job stalled
    and ran again; with max_stalled=1 two such blips failed a job that had succeeded)."""
    import redis as redis_py

    q = make(r, lease_seconds=1.0, max_stalled=1)
    runs: list[str] = []
    blips = [0]
    real_run = q._run

    def flaky_run(script: str, *args: Any, **kw: Any) -> Any:
        if script == "finish" and not blips[0]:
            blips[0] += 1
            if when == "after":
                real_run(script, *args, **kw)
            raise redis_py.ConnectionError("injected: connection reset by peer")
        return real_run(script, *args, **kw)

    q._run = flaky_run  # type: ignore[method-assign]
    job_id = q.add("email", {"to": "a"})
    q.process("email", lambda job: runs.append(job.id) or "sent", poll_seconds=0.05)
    try:
        wait_for(lambda: q.get_job_counts()["completed"] == 1)
        time.sleep(2.5)  # past the lease: a dropped finish would have stalled and run again by now
    finally:
        q.close()
    record = q.get_job(job_id)
    assert blips[0] == 1 and runs == [job_id], runs
    assert record is not None and record.state == "completed" and record.return_value == "sent", record
    assert record.stalls == 0 and q.get_job_counts()["failed"] == 0


def test_fail_with_retry_false_fails_for_good_at_once(r: Any) -> None:
    """fail(job, reason, retry=False): failed for good now, whatever attempts remain (a poison job)."""
    q = make(r)
    job_id = q.add("email", {"to": "a"}, attempts=5)
    (jid, raw, token, made), = q.claim(1)[0]
    job = q._start(jid, raw, token, made, processed_on=0.0)
    assert job is not None
    assert q.fail(job, "poison: cannot parse", retry=False) == Outcome.DEAD
    record = q.get_job(job_id)
    assert record is not None and record.state == "failed" and record.attempts_made == 1, record
    assert q.get_job_counts()["waiting"] == q.get_job_counts()["delayed"] == 0


def test_an_error_message_with_a_lone_surrogate_fails_the_job_not_the_worker(r: Any) -> None:
    """A handler's exception text holding a lone surrogate (a file name decoded with surrogateescape) has
    no UTF-8: the failure is stored with it escaped, and the worker goes on with the next job."""
    q = make(r)
    bad = q.add("parse", {"path": "x"})
    good = q.add("parse", {"path": "y"})

    def handler(job: ActiveJob) -> str:
        if job.data["path"] == "x":
            raise ValueError("cannot open b'\udcff.csv'")
        return "ok"

    q.process("parse", handler, poll_seconds=0.05)
    try:
        wait_for(lambda: q.get_job_counts()["completed"] == 1 and q.get_job_counts()["failed"] == 1)
    finally:
        q.close()
    failed = q.get_job(bad)
    assert failed is not None and failed.state == "failed" and "\\udcff" in (failed.failed_reason or ""), failed
    assert q.get_job(good).return_value == "ok"  # type: ignore[union-attr]


def test_a_priority_job_retried_at_once_keeps_its_priority(r: Any) -> None:
    """A failed attempt retried at once (no backoff) goes back by its priority, behind the jobs of its
    level and behind better levels, as BullMQ does; before, it went to `wait`, ahead of every priority."""
    q = make(r)
    low = q.add("email", {"to": "low"}, priority=3, attempts=2)
    (jid, raw, token, made), = q.claim(1)[0]
    assert jid == low
    urgent = q.add("email", {"to": "urgent"}, priority=1)
    same = q.add("email", {"to": "same level, earlier in line"}, priority=3)
    job = q._start(jid, raw, token, made, processed_on=0.0)
    assert job is not None and q.fail(job, "SMTP timeout") == Outcome.RETRIED
    assert claim_ids(q) == [urgent, same, low]


@pytest.mark.parametrize("batch, word", [
    ("not json", "JSON array"), ('{"a": 1}', "JSON array"), ('[["x"]]', "each delivery"),
    ('[["x", 1, "done", "r", 0, 0, 0, "n"]]', "outcome"),
])
def test_a_junk_finish_batch_is_refused_whole_and_the_job_stays_ours(r: Any, batch: str, word: str) -> None:
    """jq_finish.lua checks every delivery of a batch before its first write: junk (not JSON, a wrong
    shape, an unknown outcome) is an error naming what was wrong, and the claimed job is untouched."""
    import redis as redis_py

    q = make(r)
    job_id = q.add("email", {"to": "a"})
    (jid, raw, token, made), = q.claim(1)[0]
    good = json.dumps([[jid, token, "completed", '"sent"', 0.0, 0.01, 1, "email"]])
    with pytest.raises(redis_py.ResponseError, match=word):
        q._run("finish", json.dumps([json.loads(good)[0], *json.loads(batch)]) if batch.startswith("[[") else batch)
    assert q.get_job_counts()["active"] == 1 and q.get_job(job_id).state == "active"  # type: ignore[union-attr]
    assert [int(c) for c in q._run("finish", good)] == [Outcome.COMPLETED]


def test_a_finish_batch_that_names_a_delivery_twice_ends_it_once(r: Any) -> None:
    """jq_finish.lua reads a batch's tokens and records once, up front: a delivery named twice ends once,
    the second is NOT_OURS, also after a retention trim in the batch dropped the job (remove_on_fail) and
    when the second entry is another outcome; a later delivery of the batch still ends."""
    q = make(r)
    a = q.add("j", {"n": "a"}, remove_on_fail=True)
    b = q.add("j", {"n": "b"})
    (ja, _, ta, _), (jb, _, tb, _) = q.claim(2)[0]
    assert (ja, jb) == (a, b)
    codes = q.finish_many([(a, ta, "dead", "boom", 0.0, 0.0, "j"), (a, ta, "completed", "1", 0.0, 0.0, "j"),
                           (b, tb, "completed", "2", 0.0, 0.0, "j"), (b, tb, "failed", "x", 0.0, 0.0, "j")])
    assert codes == [Outcome.DEAD, Outcome.NOT_OURS, Outcome.COMPLETED, Outcome.NOT_OURS]
    assert q.get_job(a) is None and q.get_job(b).return_value == 2  # type: ignore[union-attr]
    assert q.get_job_counts() == {"waiting": 0, "active": 0, "delayed": 0, "completed": 1, "failed": 0, "paused": 0}


def test_a_claim_of_thousands_loses_no_job(r: Any) -> None:
    """jq_claim.lua popped the whole claim at once (RPOP wait N) and leased it with one ZADD of 2N
    arguments: from N = 4,000 the unpack went past Lua's limit and the script failed after the pop,
    every popped job gone from wait and never leased (the counts all 0). It pops 1,000 at a time now."""
    q = JobQueue(r, "jq-claim-thousands", lease_seconds=30)
    ids = q.add_bulk([("j", {"i": i}) for i in range(4500)])
    prio = q.add_bulk([("j", {"i": i}, {"priority": 2}) for i in range(4500)])
    jobs = q.claim(9000)[0]
    assert [j[0] for j in jobs] == ids + prio  # wait before prio, each in its order
    assert q.get_job_counts()["active"] == 9000 and len({j[2] for j in jobs}) == 9000  # a token of its own each


@pytest.mark.parametrize("where", ["same batch", "next batch", "wait and prio"])
def test_an_id_queued_twice_has_one_delivery_at_a_time(r: Any, where: str) -> None:
    """An id in `wait` twice (junk, an LPUSH by hand), or in `wait` and `prio`, was delivered twice at once:
    the second delivery's token replaced the first's, so the first finish was ignored (NOT_OURS) and the job
    ran twice. jq_claim.lua drops a popped id that is already active or popped before in the same claim."""
    q = make(r, lease_seconds=30)
    job_id = q.add("j", {"n": 1}, priority=1 if where == "wait and prio" else 0)
    other = q.add("j", {"n": 2})
    r.lpush(q.keys.wait, job_id)  # popped (RPOP) in this order: [job_id,] other, job_id
    if where == "next batch":
        first = q.claim(1)[0] + q.claim(5)[0]
    else:
        first = q.claim(5)[0]
    assert [j[0] for j in first] == ([other, job_id] if where == "wait and prio" else [job_id, other])
    assert r.llen(q.keys.wait) == r.zcard(q.keys.prio) == 0 and q.claim(5)[0] == []
    for held, _, token, _ in first:
        assert q.finish(held, token, "completed", "1") == Outcome.COMPLETED
    assert q.get_job_counts() == {"waiting": 0, "active": 0, "delayed": 0, "completed": 2, "failed": 0, "paused": 0}
