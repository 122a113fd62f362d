"""ReliableQueue: processing list, ack/nack by delivery token, leases, recovery, DLQ and replay."""

from __future__ import annotations

import json
import threading
import time

import pytest

from labqueue import Backoff, ReliableQueue, Worker
from labqueue.scripts import Outcome


def make(r, name="rq", **kw):
    kw.setdefault("lease_seconds", 5)
    kw.setdefault("backoff", Backoff.fixed(0))
    return ReliableQueue(r, name, **kw)


def test_ack_empties_processing_even_if_job_was_modified(rd):
    """Acking by delivery token works after the caller modified the job (the chapter's LREM never matches)."""
    q = make(rd)
    for i in range(5):
        q.enqueue({"type": "t", "i": i})
    jobs = [q.dequeue(timeout=0.5) for _ in range(5)]
    assert q.processing_size() == 5
    for job in jobs:
        job.data["touched"] = True  # what the chapter does before re-serialising
        job.attempts += 7
    assert q.ack(*jobs) == 5
    assert q.processing_size() == 0 and q.leases() == {} and rd.hlen(q.keys.inflight) == 0
    assert rd.hlen(q.keys.attempts) == 0


def test_dequeue_moves_and_leases(r):
    """A dequeued job sits in processing with a lease and one attempt counted."""
    q = make(r)
    job_id = q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    assert job.id == job_id and job.attempts == 1
    assert q.size() == 0 and q.processing_size() == 1
    assert 4 < q.leases()[job_id] <= 5


def test_nonblocking_dequeue(r):
    """dequeue() with timeout 0 does not block and returns None on empty."""
    q = make(r)
    assert q.dequeue() is None
    q.enqueue({"a": 1})
    assert q.dequeue() is not None


def test_claim_acks_and_claims_in_one_call(r):
    """claim() acks the finished ids and hands out the next jobs with leases."""
    q = make(r)
    ids = q.enqueue_many({"i": i} for i in range(6))
    jobs, _ = q.claim(4)
    assert [j.id for j in jobs] == ids[:4] and q.processing_size() == 4
    more, _ = q.claim(4, ack=jobs)
    assert [j.id for j in more] == ids[4:] and q.processing_size() == 2
    assert q.ack(*more) == 2 and q.processing_size() == 0


def test_nack_retries_then_dead_letters(r):
    """A nacked job comes back until max_attempts, then lands in the DLQ with its reason."""
    q = make(r, max_attempts=3)
    job_id = q.enqueue({"type": "t"})
    for attempt in (1, 2):
        job = q.dequeue(timeout=0.5)
        assert job.attempts == attempt
        assert q.nack(job, "boom") == Outcome.RETRIED
    job = q.dequeue(timeout=0.5)
    assert q.nack(job, "boom for good") == Outcome.DEAD
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 1}
    [dead] = q.dead_letters()
    assert dead.id == job_id and dead.reason == "boom for good" and dead.attempts == 3


def test_nack_with_backoff_goes_through_delayed_set(r):
    """A retry with backoff waits in the delayed set and claim() promotes it once due."""
    q = make(r, backoff=Backoff.fixed(0.2))
    q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    assert q.nack(job, "later") == Outcome.RETRIED
    assert q.delayed_size() == 1 and q.size() == 0
    jobs, next_due = q.claim(1)
    assert jobs == [] and next_due is not None and next_due > time.time()
    time.sleep(0.25)
    jobs, next_due = q.claim(1)
    assert [j.id for j in jobs] == [job.id] and jobs[0].attempts == 2 and next_due is None


def test_nack_without_retry_dead_letters(r):
    """nack(retry=False) dead-letters at once."""
    q = make(r)
    q.enqueue({"type": "t"})
    assert q.nack(q.dequeue(timeout=0.5), "poison", retry=False) == Outcome.DEAD
    assert q.dlq_size() == 1


def test_replay_dead(r):
    """Replayed dead letters go back to waiting with their attempts reset."""
    q = make(r, max_attempts=1)
    for _ in range(3):
        q.enqueue({"type": "t"})
    for _ in range(3):
        q.nack(q.dequeue(timeout=0.5), "x")
    assert q.dlq_size() == 3
    first = q.dead_letters()[0].id
    assert q.replay_dead(first) == 1 and q.dlq_size() == 2
    assert q.replay_dead() == 2 and q.dlq_size() == 0 and q.size() == 3
    assert q.dequeue(timeout=0.5).attempts == 1


def test_expired_lease_is_recovered_and_live_lease_is_not(r, make_client):
    """Recovery re-queues a dead worker's job (lease expired) and never a live worker's job."""
    q = make(r, lease_seconds=0.3)
    dead_id = q.enqueue({"type": "t"})
    q.dequeue(timeout=0.5)  # this "worker" dies: no ack, no heartbeat
    live_q = make(make_client(), lease_seconds=0.3)
    live_id = live_q.enqueue({"type": "t"})
    live = live_q.dequeue(timeout=0.5)
    for _ in range(4):  # the live worker heartbeats past the original lease
        time.sleep(0.1)
        assert live_q.extend_lease([live]) == 1
    assert q.recover_stale_jobs() == {"requeued": 1, "dead": 0, "orphans": 0}
    assert q.size() == 1 and json.loads(r.lindex(q.keys.waiting, 0))["id"] == dead_id
    assert live_id in q.leases() and q.processing_size() == 1
    assert live_q.ack(live) == 1


def test_ack_after_lease_lost_reports_it(r):
    """Acking a job that recovery already re-queued returns 0; the job is not lost."""
    q = make(r, lease_seconds=0.1)
    q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    time.sleep(0.15)
    q.recover_stale_jobs()
    assert q.ack(job) == 0 and q.nack(job, "late") == Outcome.NOT_OURS
    assert q.size() == 1


def test_recovery_dead_letters_when_attempts_spent(r):
    """A job whose lease expires on its last attempt goes to the DLQ with the reason."""
    q = make(r, lease_seconds=0.1, max_attempts=1)
    q.enqueue({"type": "t"})
    q.dequeue(timeout=0.5)
    time.sleep(0.15)
    assert q.recover_stale_jobs()["dead"] == 1
    assert "lease expired" in q.dead_letters()[0].reason


def test_recovery_keeps_an_earlier_dead_letter_of_the_same_id(r):
    """A job dead-lettered by recovery under an id the DLQ already holds goes under its token; both stay."""
    q = make(r, lease_seconds=0.1, max_attempts=1)
    job_id = q.enqueue({"type": "t"}, job_id="dup")
    r.hset(q.keys.dlq, job_id, "older")
    job = q.dequeue(timeout=0.5)
    time.sleep(0.15)
    assert q.recover_stale_jobs()["dead"] == 1
    letters = {d.id: d for d in q.dead_letters()}
    assert letters[job_id].raw == "older" and json.loads(letters[job.token].raw)["id"] == job_id
    assert "lease expired" in letters[job.token].reason and letters[job.token].attempts == 1


def test_recovery_keeps_an_earlier_dead_letter_under_the_token_too(r):
    """With the id and the token both taken in the DLQ (a seq counter that restarted), recovery writes the
    dead job under the next free '<n>:<id>'; recover.lua's own copy overwrote the one under the token."""
    q = make(r, lease_seconds=0.1, max_attempts=1)
    job_id = q.enqueue({"type": "t"}, job_id="dup")
    job = q.dequeue(timeout=0.5)
    r.hset(q.keys.dlq, mapping={job_id: "older 1", job.token: "older 2"})
    time.sleep(0.15)
    assert q.recover_stale_jobs()["dead"] == 1
    raws = sorted(d.raw for d in q.dead_letters())
    assert raws[:2] == ["older 1", "older 2"] and len(raws) == 3 and json.loads(raws[2])["id"] == job_id


def test_orphan_moved_but_never_leased_is_recovered_after_grace(r):
    """A job moved to processing but never leased comes back after the grace period only."""
    q = make(r, orphan_grace=0.2)
    q.enqueue({"type": "t"})
    r.lmove(q.keys.waiting, q.keys.processing, "RIGHT", "LEFT")  # worker died before lease.lua
    assert q.recover_stale_jobs()["orphans"] == 0
    assert q.processing_size() == 1
    time.sleep(0.25)
    assert q.recover_stale_jobs()["orphans"] == 1
    assert q.size() == 1 and q.processing_size() == 0


def test_lease_after_recovery_took_the_job_returns_nothing(r):
    """A slow worker whose moved job was recovered as an orphan does not process it too."""
    q = make(r, orphan_grace=0.0)
    q.enqueue({"type": "t"})
    raw = r.lmove(q.keys.waiting, q.keys.processing, "RIGHT", "LEFT")
    q.recover_stale_jobs()
    q.recover_stale_jobs()  # second pass: past the zero grace, re-queued
    reply = q._lease(keys=[q.keys.processing, q.keys.inflight, q.keys.attempts, q.keys.leases,
                           q.keys.orphans, q.keys.dlq, q.keys.dlq_meta, q.keys.seq],
                     args=[raw, 5, ""])
    assert reply == [0] and q.size() == 1


def test_invalid_entries_are_dead_lettered(r):
    """Non-JSON entries and JSON entries missing fields end in the DLQ with a reason."""
    q = make(r)
    r.lpush(q.keys.waiting, "not json", json.dumps({"id": "x1", "data": {}}))
    jobs, _ = q.claim(5)
    assert jobs == [] and q.processing_size() == 0
    reasons = sorted(d.reason for d in q.dead_letters())
    assert len(reasons) == 2
    assert any("missing field 'type'" in reason for reason in reasons)
    assert any("not a JSON job" in reason for reason in reasons)


def test_each_job_processed_exactly_once_by_threads(r):
    """N jobs and K worker threads: every job processed exactly once, nothing left over."""
    q = make(r)
    n = 300
    q.enqueue_many({"type": "t", "i": i} for i in range(n))
    seen: list[int] = []
    lock = threading.Lock()

    def handle(job):
        with lock:
            seen.append(job.data["i"])

    Worker(q, {"t": handle}, concurrency=4, prefetch=3, burst=True, poll_seconds=0.2).run()
    assert sorted(seen) == list(range(n))
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


def test_bad_nack_delay(r):
    """A negative nack delay is refused and the job stays in flight."""
    q = make(r)
    q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    with pytest.raises(ValueError, match="delay must be a finite number >= 0"):
        q.nack(job, "x", delay=-1)
    assert q.processing_size() == 1


def test_broken_json_that_starts_like_a_job_is_dead_lettered(r):
    """An entry that starts like labqueue's JSON but is broken goes to the DLQ, and the queue moves on."""
    q = make(r)
    r.lpush(q.keys.waiting, '{"id":"half","type":"t",broken')
    good = q.enqueue({"type": "t"})
    jobs, _ = q.claim(5)
    assert [j.id for j in jobs] == [good]
    [dead] = q.dead_letters()
    assert dead.id == "half" and "not valid JSON" in dead.reason
    assert q.ack(*jobs) == 1 and q.processing_size() == 0 and q.leases() == {}


def test_claim_batch_acks_many_and_keeps_order(r):
    """A claim of 50 then an ack of all 50 in one call leaves nothing in flight."""
    q = make(r)
    ids = q.enqueue_many({"i": i} for i in range(120))
    jobs, _ = q.claim(50)
    assert [j.id for j in jobs] == ids[:50] and len(q.leases()) == 50
    more, _ = q.claim(100, ack=jobs)
    assert [j.id for j in more] == ids[50:] and len(q.leases()) == 70
    assert q.ack(*more) == 70
    assert q.counts()["processing"] == 0 and r.hlen(q.keys.inflight) == 0 and r.hlen(q.keys.attempts) == 0


def test_failed_dead_letter_write_keeps_the_job_in_flight(r):
    """When the DLQ key has the wrong type, nack and recovery fail loudly and the job stays in flight."""
    import redis as redis_py

    q = make(r, lease_seconds=0.1, max_attempts=1)
    q.enqueue({"type": "t"})
    job = q.dequeue(timeout=0.5)
    r.set(q.keys.dlq, "not a hash")
    with pytest.raises(redis_py.ResponseError):
        q.nack(job, "poison", retry=False)
    assert q.processing_size() == 1 and r.hexists(q.keys.inflight, job.token)
    time.sleep(0.15)
    with pytest.raises(redis_py.ResponseError):
        q.recover_stale_jobs()
    assert q.processing_size() == 1 and r.hexists(q.keys.inflight, job.token)
    r.delete(q.keys.dlq)
    assert q.recover_stale_jobs()["dead"] == 1 and q.dlq_size() == 1 and q.processing_size() == 0


# -- dead letters: the server's time, delete_dead ----------------------------------------------------
def _server_now(r):
    sec, usec = r.time()
    return int(sec) + int(usec) / 1e6


def _bury_one(r, writer):
    """Dead-letter one entry the way `writer` does; returns the queue."""
    from labqueue import CronQueue, SimpleQueue
    from labqueue.quarantine import quarantine_wrong_types

    if writer == "schedule":
        q = CronQueue(r, "skew")
        r.hset(q.keys.cron, "bad", "{not json")
        q.run_cron()
    elif writer == "quarantine":
        q = make(r, "skew")
        r.set(q.keys.waiting, "oops")
        assert quarantine_wrong_types(q) == [q.keys.waiting]
    else:
        q = SimpleQueue(r, "skew")
        r.lpush(q.keys.waiting, "not a job" if writer == "junk" else q._new_job({"type": "t"}).raw)
        job = q.dequeue()
        if job is not None:
            q.bury(job, "poison")
    return q


@pytest.mark.parametrize("skew", [-86400, 86400])
@pytest.mark.parametrize("writer", ["job", "junk", "schedule", "quarantine"])
def test_a_dead_letters_failed_at_is_the_servers_time_not_the_clients(r, monkeypatch, writer, skew):
    """A client whose clock is a day off writes dead letters stamped with the Redis server's TIME: bury(),
    CronQueue's bad schedules and quarantine wrote the client's time.time(), so a skewed worker's dead
    letters sorted out of order in dead_letters() and showed wrong ages. Only the client's view is skewed
    (labqueue's modules), not time.time itself: on fakeredis that is the server's clock."""
    import types

    from labqueue import base, cron, quarantine

    skewed = types.SimpleNamespace(time=lambda: time.time() + skew, monotonic=time.monotonic, sleep=time.sleep)
    for module in (base, cron, quarantine):
        monkeypatch.setattr(module, "time", skewed, raising=False)
    before = _server_now(r)
    q = _bury_one(r, writer)
    after = _server_now(r)
    [letter] = q.dead_letters()
    assert before - 1 <= letter.failed_at <= after + 1, (
        f"failed_at is {letter.failed_at - after:+.0f} s from the server's time (client skewed {skew:+d} s)")


def test_delete_dead_drops_one_dead_letter_and_its_meta(rd):
    """delete_dead(id) removes that dead letter and its meta and says whether it was there; the others stay."""
    q = make(rd, max_attempts=1)
    for _ in range(3):
        q.enqueue({"type": "t"})
    for _ in range(3):
        q.nack(q.dequeue(timeout=0.5), "poison")
    first, second, third = (d.id for d in q.dead_letters())
    assert q.delete_dead(second) is True
    assert [d.id for d in q.dead_letters()] == [first, third] and not rd.hexists(q.keys.dlq_meta, second)
    assert q.delete_dead(second) is False and q.delete_dead("no-such-id") is False
    assert q.replay_dead() == 2 and q.size() == 2 and q.dlq_size() == 0


def test_delete_dead_takes_junk_entries_and_refuses_bad_ids(rd):
    """Entries that are no job, a non-UTF-8 id (given as bytes), an entry without meta and a meta without
    entry are dropped too; an id that is no non-empty string (or bytes) is a ConfigError naming it."""
    from labqueue import ConfigError

    q = make(rd)
    rd.hset(q.keys.dlq, mapping={"junk": "not a job", b"bin\xff": b"\xc3\x28", "no-meta": "{}"})
    rd.hset(q.keys.dlq_meta, mapping={"junk": "{not json", b"bin\xff": "{}", "orphan": "{}"})
    assert q.delete_dead("junk") is True and q.delete_dead(b"bin\xff") is True
    assert q.delete_dead("no-meta") is True
    assert q.delete_dead("orphan") is False and not rd.hexists(q.keys.dlq_meta, "orphan")  # cleaned up
    assert q.dlq_size() == 0 and rd.hlen(q.keys.dlq_meta) == 0
    for bad in (None, "", b"", 5, "id-\udcff"):
        with pytest.raises(ConfigError, match=r"delete_dead\(\) takes a dead-letter id \(a non-empty string"):
            q.delete_dead(bad)


def test_delete_dead_changes_nothing_when_a_dlq_key_has_the_wrong_type(r):
    """A wrong-typed DLQ hash (or meta hash) fails loudly and leaves the other hash as it was."""
    import redis as redis_py

    q = make(r)
    r.hset(q.keys.dlq, "a", "{}")
    r.set(q.keys.dlq_meta, "not a hash")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.delete_dead("a")
    assert r.hexists(q.keys.dlq, "a")
    r.delete(q.keys.dlq, q.keys.dlq_meta)
    r.hset(q.keys.dlq_meta, "a", "{}")
    r.set(q.keys.dlq, "not a hash")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.delete_dead("a")
    assert r.hexists(q.keys.dlq_meta, "a")


def test_delete_dead_drops_a_cron_schedules_dead_letter(r):
    """A schedule that cannot run, dead-lettered as cron:<name>, can be dropped instead of replayed."""
    q = _bury_one(r, "schedule")
    assert [d.id for d in q.dead_letters()] == ["cron:bad"]
    assert q.delete_dead("cron:bad") is True and q.dlq_size() == 0 and q.schedules() == {}


@pytest.mark.parametrize("pattern", ["reliable", "simple", "priority"])
def test_replay_into_a_wrong_typed_queue_key_keeps_the_dead_letter(r, pattern):
    """replay.lua writes the job to its queue before it deletes the dead letter: when that write fails
    (the queue key overwritten with another type) the dead letter stays, and a reliable queue's id is
    not left marked live. It deleted the dead letter first, so the job vanished."""
    import redis as redis_py

    from labqueue import PriorityQueue, SimpleQueue

    q = {"reliable": make, "simple": SimpleQueue, "priority": PriorityQueue}[pattern](r, "wrong-target")
    q.bury(q._new_job({"n": 1}, type="t", job_id="j1"), "failed")
    target = q._target()[1]
    r.set(target, "not a queue")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.replay_dead("j1")
    assert [d.id for d in q.dead_letters()] == ["j1"] and not r.hexists(q.keys.attempts, "j1")
    r.delete(target)
    assert q.replay_dead("j1") == 1 and q.dlq_size() == 0


def test_an_enqueue_refused_by_a_wrong_typed_waiting_key_leaves_its_id_free(r):
    """enqueue.lua pushes the job before it marks its id live: when the waiting key holds another type
    the call fails with nothing written, and the same id enqueues once the key is fixed. It marked
    the id first: every later enqueue of that id was a DuplicateJob, for a job that never was."""
    import redis as redis_py

    q = make(r, name="enqueue-wrong")
    r.set(q.keys.waiting, "oops")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.enqueue({"type": "t"}, job_id="invoice-7")
    assert not r.hexists(q.keys.attempts, "invoice-7")
    r.delete(q.keys.waiting)
    assert q.enqueue({"type": "t"}, job_id="invoice-7") == "invoice-7" and q.size() == 1


def test_a_due_retry_stays_delayed_when_the_waiting_key_has_the_wrong_type(r):
    """claim.lua promotes a due retry by pushing it to the waiting list before it leaves the delayed
    set: with the waiting key holding another type the claim fails and the retry is still there. It
    removed the retry first: the push failed and the job was gone."""
    import redis as redis_py

    q = make(r, name="claim-wrong")
    q.enqueue({"type": "t"})
    assert q.nack(q.dequeue(), "boom", delay=0.01) == Outcome.RETRIED
    time.sleep(0.05)
    r.set(q.keys.waiting, "oops")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.claim(1)
    assert q.delayed_size() == 1
    r.delete(q.keys.waiting)
    assert len(q.claim(1)[0]) == 1 and q.delayed_size() == 0


def test_a_claim_and_an_ack_of_thousands_of_jobs_in_one_call(r):
    """claim.lua writes and reads in chunks: unpack() of a table longer than Lua's C stack (about
    8,000 values) failed. claim(5000) moved the 5,000 jobs to processing, counted a delivery for each,
    then failed before leasing any: an error for the caller, unleased orphans in processing, and the
    same again on every try; an ack of 9,000 tokens failed likewise."""
    q = make(r, name="big-batch", lease_seconds=60)
    q.enqueue_many([{"type": "t"}] * 9000)
    jobs = q.claim(5000)[0] + q.claim(4000)[0]
    assert len(jobs) == 9000 and len({j.token for j in jobs}) == 9000
    assert r.hlen(q.keys.inflight) == 9000 and r.zcard(q.keys.leases) == 9000
    assert q.ack(*jobs) == 9000
    assert q.processing_size() == 0 and r.hlen(q.keys.inflight) == 0 and r.zcard(q.keys.leases) == 0
    assert r.hlen(q.keys.attempts) == 0
