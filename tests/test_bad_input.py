"""Bad input: bad data already in Redis (the worker survives, each entry ends in the DLQ with a
reason), bad input at the API (a clear error, nothing written to Redis), and security (no pickle,
no eval, no import of anything a job names; the Redis password never printed).
"""

from __future__ import annotations

import ast
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

import labqueue
from labqueue import (Backoff, ConfigError, InvalidJob, PayloadTooLarge, ReliableQueue, SimpleQueue, Worker,
                      connect, describe)
from labqueue.lab.server import RedisServer
from tests.conftest import require_redis_server

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "labqueue"
QUEUES: dict[str, Callable[..., Any]] = {"reliable": ReliableQueue, "simple": SimpleQueue}


# -- 4. bad data already in Redis -------------------------------------------------------------------
BAD_ENTRIES = {
    "not json": "this is {not json",
    "json, not an object": "[1, 2, 3]",
    "no id": json.dumps({"type": "work", "data": {}}),
    "no type": json.dumps({"id": "no-type", "data": {}}),
    "data not an object": json.dumps({"id": "bad-data", "type": "work", "data": "text"}),
    "max_attempts a list": json.dumps({"id": "bad-max", "type": "work", "data": {}, "max_attempts": [1]}),
    "enqueued_at an object": json.dumps({"id": "bad-ts", "type": "work", "data": {}, "enqueued_at": {}}),
    "unknown type": json.dumps({"id": "who-knows", "type": "os.system", "data": {"cmd": "rm -rf /"}}),
}


@pytest.mark.parametrize("pattern", sorted(QUEUES))
def test_bad_entries_in_the_waiting_list_end_in_the_dlq_and_the_worker_goes_on(r: Any, pattern: str) -> None:
    """Non-JSON, incomplete, ill-typed and unknown-type entries are dead-lettered with a reason; good jobs run."""
    queue = QUEUES[pattern](r, "dirty")
    done: list[str] = []
    queue.enqueue({"type": "work", "n": 0})
    for raw in BAD_ENTRIES.values():
        r.lpush(queue.keys.waiting, raw)
    queue.enqueue({"type": "work", "n": 1})
    worker = Worker(queue, {"work": lambda job: done.append(job.data["n"])}, concurrency=2, burst=True,
                    poll_seconds=0.05)
    worker.run()
    assert sorted(done) == [0, 1]
    assert worker.stats["errors"] == 0 and worker.alive == 0
    dead = queue.dead_letters()
    assert sorted(d.raw for d in dead) == sorted(BAD_ENTRIES.values())
    assert all(d.reason for d in dead)
    reasons = {d.raw: d.reason for d in dead}
    assert "unknown job type 'os.system'" in reasons[BAD_ENTRIES["unknown type"]]
    assert "missing field 'type'" in reasons[BAD_ENTRIES["no type"]]
    assert "max_attempts" in reasons[BAD_ENTRIES["max_attempts a list"]]
    assert r.llen(queue.keys.waiting) == 0 and r.llen(queue.keys.processing) == 0


@pytest.mark.parametrize("pattern, key, wrong", [
    ("reliable", "waiting", "string"),
    ("reliable", "processing", "hash"),
    ("reliable", "leases", "list"),
    ("reliable", "dlq", "string"),
    ("simple", "waiting", "zset"),
])
def test_a_queue_key_of_the_wrong_type_is_moved_aside_and_named_in_the_dlq(r: Any, pattern: str, key: str,
                                                                           wrong: str) -> None:
    """A queue key overwritten with another Redis type is renamed to quarantine:<n>; the worker goes on."""
    options = {"lease_seconds": 0.3} if pattern == "reliable" else {}  # quick recovery of half-claimed jobs
    queue = QUEUES[pattern](r, "broken", **options)
    bad_key = getattr(queue.keys, key)
    if key != "waiting":
        queue.enqueue({"type": "work", "n": 0})
    if key == "dlq":
        r.lpush(queue.keys.waiting, "not a job: dead-lettering it meets the broken DLQ")
    {"string": lambda: r.set(bad_key, "oops"), "hash": lambda: r.hset(bad_key, "f", "v"),
     "list": lambda: r.rpush(bad_key, "x"), "zset": lambda: r.zadd(bad_key, {"m": 1})}[wrong]()
    done: list[int] = []
    worker = Worker(queue, {"work": lambda job: done.append(job.data["n"])}, concurrency=1, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        def quarantined() -> bool:
            try:
                return any(d.id.startswith("quarantine:") for d in queue.dead_letters())
            except redis.ResponseError:  # the DLQ itself may be the broken key, not moved yet
                return False

        while not quarantined():
            assert time.monotonic() < deadline, "the bad key was never moved aside"
            time.sleep(0.02)
        queue.enqueue({"type": "work", "n": 1})
        while sorted(done) != ([1] if key == "waiting" else [0, 1]):
            assert time.monotonic() < deadline, f"jobs not processed after the quarantine: {done}"
            time.sleep(0.02)
        while key == "dlq" and queue.dlq_size() < 2:  # the entry that met the broken DLQ is not lost
            assert time.monotonic() < deadline, "the invalid entry vanished"
            time.sleep(0.02)
    finally:
        worker.stop(timeout=10)
    [entry] = [d for d in queue.dead_letters() if d.id.startswith("quarantine:")]
    moved_to = queue.keys.quarantine(int(entry.id.split(":")[1]))
    assert f"key {bad_key} held a Redis {wrong}" in entry.reason and moved_to in entry.reason
    assert json.loads(entry.raw) == {"quarantined_key": bad_key, "type": wrong,
                                     "expected": "list" if key in ("waiting", "processing") else
                                     {"leases": "zset", "dlq": "hash"}[key], "moved_to": moved_to}
    assert r.type(moved_to) == wrong  # kept for inspection, not deleted
    assert worker.stats["errors"] == 0


def test_a_jobqueue_repeat_key_of_the_wrong_type_is_moved_aside_and_the_repeatable_job_runs(r: Any) -> None:
    """A JobQueue's `repeat` hash overwritten with a string: scheduling the next run (jq_add.lua) met WRONGTYPE,
    so the claimed occurrence was handed back unrun (JobQueue._hand_back), and quarantine did not know the
    JobQueue's keys: nothing moved, the worker logged and retried at every poll, the job never ran. The key
    is moved aside, named in the dead-letter queue, and the job runs."""
    from labqueue import JobQueue

    queue = JobQueue(r, "broken-repeat")
    queue.add("tick", {}, repeat={"every": 0.05}, job_id="ticker")
    r.set(queue.keys.repeat, "oops")  # replaces the hash {ticker: <its pending occurrence>}
    done: list[str] = []
    worker = Worker(queue, {"tick": lambda job: done.append(job.id)}, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not done:
            assert time.monotonic() < deadline, "the repeatable job never ran"
            time.sleep(0.02)
    finally:
        worker.stop(timeout=10)
    assert done[0].startswith("repeat:ticker:")
    [(entry_id, raw)] = [(k, v) for k, v in r.hgetall(queue.keys.dlq).items() if k.startswith("quarantine:")]
    moved_to = queue.keys.quarantine(int(entry_id.split(":")[1]))
    assert json.loads(raw) == {"quarantined_key": queue.keys.repeat, "type": "string", "expected": "hash",
                               "moved_to": moved_to}
    assert r.get(moved_to) == "oops"  # kept for inspection, not deleted
    assert worker.stats["errors"] == 0


def test_a_repeatable_job_goes_on_repeating_after_its_repeat_key_is_moved_aside(r: Any) -> None:
    """The `repeat` hash overwritten with a string and moved aside: the occurrence pending then ran, but
    jq_add.lua added a next one only while that hash named the schedule, so the schedule ended there,
    silently. It goes on (the hash is written again) until removed."""
    from labqueue import JobQueue

    queue = JobQueue(r, "lost-repeat")
    queue.add("tick", {}, repeat={"every": 0.05}, job_id="ticker")
    r.set(queue.keys.repeat, "oops")
    done: list[str] = []
    worker = Worker(queue, {"tick": lambda job: done.append(job.id)}, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while len(set(done)) < 3:
            assert time.monotonic() < deadline, f"the schedule ended after the quarantine: ran only {done}"
            time.sleep(0.02)
        assert queue.remove_repeatable("ticker")
    finally:
        worker.stop(timeout=10)
    assert all(i.startswith("repeat:ticker:") for i in done) and len(set(done)) == len(done)
    assert queue.repeatables() == {} and r.hlen(queue.keys.dlq) == 1
    assert worker.stats["errors"] == 0


def test_quarantine_never_overwrites_a_key_moved_aside_before(r: Any) -> None:
    """The quarantine counter restarted (deleted by hand) or overwritten with another type: RENAME onto
    quarantine:1 replaced the key moved aside first, and its dead-letter entry with it; a wrong-typed counter
    failed every quarantine (INCR: WRONGTYPE), so nothing could be moved any more. Each bad key, the counter
    too, now goes to a free quarantine:<n>, each named by its own dead-letter entry."""
    from labqueue.quarantine import quarantine_wrong_types

    queue = ReliableQueue(r, "requarantine")
    r.set(queue.keys.waiting, "first")
    assert quarantine_wrong_types(queue) == [queue.keys.waiting]
    r.delete(queue.keys.quarantine_seq)
    r.set(queue.keys.waiting, "second")
    assert quarantine_wrong_types(queue) == [queue.keys.waiting]
    r.delete(queue.keys.quarantine_seq)
    r.hset(queue.keys.quarantine_seq, "f", "v")
    r.set(queue.keys.waiting, "third")
    assert quarantine_wrong_types(queue) == [queue.keys.waiting, queue.keys.quarantine_seq]
    letters = {d.id: json.loads(d.raw) for d in queue.dead_letters()}
    assert len(letters) == 4
    moved = {entry["moved_to"]: entry["quarantined_key"] for entry in letters.values()}
    assert sorted(r.get(k) for k, was in moved.items() if was == queue.keys.waiting) == ["first", "second", "third"]
    [seq_moved_to] = [k for k, was in moved.items() if was == queue.keys.quarantine_seq]
    assert r.hgetall(seq_moved_to) == {"f": "v"}
    assert all(letter_id == "quarantine:" + k.rsplit(":", 1)[1] for letter_id, k in
               ((i, e["moved_to"]) for i, e in letters.items()))


@pytest.mark.parametrize("pattern", ["simple", "delayed"])
@pytest.mark.parametrize("junk", ["abc", str(2**63 - 1)])
def test_junk_in_the_counter_does_not_stop_the_burial_of_an_entry_that_is_no_job(r: Any, pattern: str,
                                                                                 junk: str) -> None:
    """The seq counter holding junk of the right type (a string that is no integer, or one at INCR's
    limit): bury() INCRed it and raised 'value is not an integer or out of range' after the entry was
    popped: the entry vanished (in no list, not in the DLQ) and the worker thread stopped on an
    unexpected error. The entry is dead-lettered under 'invalid:<random>', the next job comes out."""
    from labqueue import DelayedQueue

    queue = {"simple": SimpleQueue, "delayed": DelayedQueue}[pattern](r, "junk-seq")
    r.set(queue.keys.seq, junk)
    r.lpush(queue.keys.waiting, "not a job")
    queue.enqueue({"type": "t"}, job_id="good")
    job = queue.dequeue()
    assert job is not None and job.id == "good"
    assert [(d.id.startswith("invalid:"), d.raw) for d in queue.dead_letters()] == [(True, "not a job")]


def test_quarantine_leaves_keys_of_the_right_type_alone(r: Any) -> None:
    """With every key of the right type, quarantine moves nothing and writes nothing."""
    from labqueue.quarantine import quarantine_wrong_types

    queue = ReliableQueue(r, "fine")
    queue.enqueue({"type": "work"})
    queue.dequeue()
    before = sorted(r.keys("*"))
    assert quarantine_wrong_types(queue) == []
    assert sorted(r.keys("*")) == before


def test_dead_letters_survive_invalid_utf8_and_unreadable_meta(rd: Any) -> None:
    """dead_letters() lists entries whose id, job or meta is not UTF-8 or not JSON, in both decode modes."""
    queue = ReliableQueue(rd, "dlq-junk")
    queue.enqueue({"type": "t"}, job_id="good")
    job = queue.dequeue()
    assert job is not None
    queue.nack(job, "boom", retry=False)
    rd.hset(queue.keys.dlq, b"bin\xff", b"\xff\xfe{not utf8")
    rd.hset(queue.keys.dlq_meta, b"bin\xff", b'{"reason": "bad \xff bytes", "failed_at": 5, "attempts": 1}')
    rd.hset(queue.keys.dlq, "junk-meta", "{}")
    rd.hset(queue.keys.dlq_meta, "junk-meta", "[not an object")
    rd.hset(queue.keys.dlq, "odd-meta", "{}")
    rd.hset(queue.keys.dlq_meta, "odd-meta", '{"reason": 7, "failed_at": "yesterday", "attempts": [1]}')
    entries = {d.id: d for d in queue.dead_letters()}
    assert set(entries) == {"good", "bin\ufffd", "junk-meta", "odd-meta"}
    assert entries["good"].job is not None and entries["good"].reason == "boom"
    assert entries["bin\ufffd"].job is None and "bad" in entries["bin\ufffd"].reason
    assert entries["bin\ufffd"].attempts == 1 and entries["bin\ufffd"].failed_at == 5
    assert "unreadable" in entries["junk-meta"].reason and entries["odd-meta"].failed_at == 0


# -- 5. bad input at the API: a clear error, nothing written -------------------------------------------
def nothing_written(r: Any, call: Callable[[], Any], error: type[Exception], match: str) -> None:
    """`call()` raises `error` matching `match`, and the database is byte-for-byte as before."""
    before = {k: r.dump(k) for k in r.keys("*")}
    with pytest.raises(error, match=match):
        call()
    assert {k: r.dump(k) for k in r.keys("*")} == before
    assert r.dbsize() == len(before)


class Opaque:
    pass


def _circular() -> dict[str, Any]:
    data: dict[str, Any] = {"type": "t"}
    data["me"] = data
    return data


def _nested(depth: int) -> dict[str, Any]:
    inner: list[Any] = []
    for _ in range(depth):
        inner = [inner]
    return {"type": "t", "deep": inner}


@pytest.mark.parametrize("pattern", sorted(QUEUES))
@pytest.mark.parametrize("data, options, error, match", [
    ({"type": "t", "when": Opaque()}, {}, InvalidJob, "not JSON-serialisable"),
    ({"type": "t", "tags": {1, 2}}, {}, InvalidJob, "not JSON-serialisable"),
    ({"type": "t", "x": math.nan}, {}, InvalidJob, "not JSON-serialisable"),
    (_circular(), {}, InvalidJob, "not JSON-serialisable: it contains itself"),
    (_nested(100_000), {}, InvalidJob, "not JSON-serialisable: .*nested too deeply"),
    (["not", "a", "dict"], {}, InvalidJob, "must be a dict"),
    ({"type": "t", "blob": "x" * 2_000_000}, {}, PayloadTooLarge, "over the limit of 1,000,000 bytes"),
    ({"type": ""}, {}, InvalidJob, "job type must be a non-empty string"),
    ({"type": "t"}, {"job_id": ""}, InvalidJob, "job id must be a non-empty string"),
    # a lone surrogate (what a bad decode with errors='surrogateescape' leaves) has no UTF-8 bytes:
    # an InvalidJob naming where it is, not redis-py's UnicodeEncodeError halfway through the write
    ({"type": "t", "name": "caf\udce9"}, {}, InvalidJob, "job data is not valid Unicode: .*surrogate"),
    ({"type": "t", "\ud800": 1}, {}, InvalidJob, "job data is not valid Unicode: .*surrogate"),
    ({"type": "t"}, {"job_id": "id-\udcff"}, InvalidJob, "job id is not valid Unicode: .*surrogate"),
    ({"type": "t\udcff"}, {}, InvalidJob, "job type is not valid Unicode: .*surrogate"),
])
def test_bad_job_at_enqueue_is_a_clear_error_and_writes_nothing(r: Any, pattern: str, data: Any,
                                                               options: dict[str, Any], error: type,
                                                               match: str) -> None:
    """Non-serialisable, oversized or invalid job data raises InvalidJob naming the problem; DBSIZE unchanged."""
    queue = QUEUES[pattern](r, "api")
    queue.enqueue({"type": "t"})  # something already there, to see it untouched
    nothing_written(r, lambda: queue.enqueue(data, **options), error, match)
    if not options:  # one bad job in a batch: the whole batch is refused
        nothing_written(r, lambda: queue.enqueue_many([{"type": "ok"}, data]), error, match)


def test_a_lone_surrogate_is_refused_in_one_sentence_by_every_queue_kind() -> None:
    """new_job (the list queues) and jobspec.plan (JobQueue) refuse a lone surrogate with the same sentence,
    naming where it is and the character (labqueue.job.utf8_size, one helper): JobQueue's said
    "'caf\\udce9' holds a lone surrogate" for a job_id, and neither of its messages gave the hint."""
    import re

    from labqueue.job import new_job
    from labqueue.jobspec import plan

    bad = "caf\udce9"
    cases = {"job data": lambda: new_job({"to": bad}), "job type": lambda: new_job({}, type=bad),
             "job id": lambda: new_job({}, job_id=bad), "job name or data": lambda: plan(bad, {}, {}),
             "option 'job_id'": lambda: plan("n", {}, {"job_id": bad})}
    for where, call in [*cases.items(), ("job name or data", lambda: plan("n", {"to": bad}, {}))]:
        sentence = (f"{where} is not valid Unicode: it holds {bad[-1]!r}, a lone surrogate, which has no UTF-8 "
                    "encoding (text decoded with errors='surrogateescape'?)")
        with pytest.raises(InvalidJob, match=f"^{re.escape(sentence)}$"):
            call()


def test_bad_max_attempts_at_enqueue_is_a_clear_error(r: Any) -> None:
    """max_attempts below 1 (or not an integer) is refused before anything is written."""
    queue = ReliableQueue(r, "api")
    nothing_written(r, lambda: queue.enqueue({"type": "t"}, max_attempts=-2), InvalidJob, "max_attempts")
    nothing_written(r, lambda: queue.enqueue({"type": "t"}, max_attempts=2.5), InvalidJob, "max_attempts")


@pytest.mark.parametrize("pattern", sorted(QUEUES))
def test_an_integer_max_attempts_of_another_integral_type_is_taken_as_its_int(r: Any, pattern: str) -> None:
    """max_attempts is checked as any integer (numbers.Integral: numpy's int64, as pandas hands them out),
    but the job kept the value as given, which JSON cannot hold: the enqueue failed with 'job data is not
    JSON-serialisable', naming the wrong thing. The job holds its int."""
    numpy = pytest.importorskip("numpy")
    queue = QUEUES[pattern](r, "api")
    queue.enqueue({"type": "t"}, max_attempts=numpy.int64(2))
    job = queue.dequeue()
    assert job is not None and job.max_attempts == 2 and type(job.max_attempts) is int


@pytest.mark.parametrize("pattern", ["simple", "reliable", "priority", "delayed"])
def test_bad_dequeue_timeout_dead_letters_limit_or_replay_id_is_a_clear_error(r: Any, pattern: str) -> None:
    """dequeue(timeout=) negative or NaN returned None at once (a non-blocking pop, as if 0 were meant),
    infinite or huge raised OverflowError (or Redis's 'timeout is out of range'), a string a TypeError
    about '>'; dead_letters(limit=-1) returned [] and a float limit a TypeError about slices;
    replay_dead(None) raised redis-py's DataError, a lone surrogate UnicodeEncodeError. Each is a
    ConfigError naming the argument, and the waiting job is still there."""
    from labqueue import DelayedQueue, PriorityQueue

    queue = {"simple": SimpleQueue, "reliable": ReliableQueue, "priority": PriorityQueue,
             "delayed": DelayedQueue}[pattern](r, "args")
    queue.enqueue({"type": "t"}, job_id="kept")
    for timeout in (-1, math.nan, math.inf, 1e20, "5"):
        with pytest.raises(ConfigError, match="timeout must be a finite number >= 0"):
            queue.dequeue(timeout=timeout)
    for limit in (-1, 1.5, "10"):
        with pytest.raises(ConfigError, match="limit must be an integer >= 0"):
            queue.dead_letters(limit=limit)
    for job_id in (None, "", "cron:\udcff", b"kept"):
        with pytest.raises(ConfigError, match="replay_dead\\(\\) takes dead-letter ids"):
            queue.replay_dead(job_id)
    job = queue.dequeue(timeout=threading.TIMEOUT_MAX)  # a worker's largest poll_seconds: still taken
    assert job is not None and job.id == "kept"


BAD_COUNTS = [2.5, math.inf, math.nan, 0, -1, True, "2", None]


def test_a_bad_claim_count_is_a_clear_error_and_claims_or_acks_nothing(r: Any) -> None:
    """claim(2.5) claimed 3 jobs and claim(inf) every one (claim.lua took the number as it came);
    -1, a bool, NaN or a string did whatever the script made of them. Each is a ConfigError
    naming `count`, raised before the round trip: nothing claimed, the acks given not acked."""
    q = ReliableQueue(r, "claim-count")
    for n in range(4):
        q.enqueue({"type": "t"}, job_id=f"j{n}")
    (held,), _ = q.claim(1)
    for count in [c for c in BAD_COUNTS if c != 0]:
        with pytest.raises(ConfigError, match=r"count must be an integer >= 0, got "):
            q.claim(count, ack=[held])
    assert q.size() == 3 and set(q.leases()) == {held.id}, "nothing claimed, the held job not acked"
    assert q.claim(0, ack=[held]) == ([], None), "0 claims nothing (notebook 11 loads the script so)..."
    assert q.size() == 3 and q.leases() == {}, "...and still acks"


def test_a_bad_jobqueue_claim_count_is_a_clear_error_and_moves_nothing(r: Any) -> None:
    """JobQueue.claim(2.5) met Redis's 'value is out of range' after jq_claim.lua had promoted the due delayed
    jobs, claim(inf) claimed every job, claim(-1) claimed none without a word and a bool or None reached the
    client. As ReliableQueue.claim: a ConfigError naming `count`, before the round trip; claim(0) promotes only."""
    from labqueue import JobQueue

    q = JobQueue(r, "jq-claim-count")
    q.add("t", {}, job_id="waiting")
    q.add("t", {}, job_id="due", delay=60)
    r.zadd(q.keys.delayed, {"due": 0})  # due now: a claim promotes it before taking jobs
    for count in [c for c in BAD_COUNTS if c != 0]:
        with pytest.raises(ConfigError, match=r"count must be an integer >= 0, got "):
            q.claim(count)
        with pytest.raises(ConfigError, match=r"count must be an integer >= 0, got "):
            q.take(count, [], 0.0, threading.Event())
    counts = q.get_job_counts()
    assert (counts["waiting"], counts["delayed"], counts["active"]) == (1, 1, 0), "nothing promoted or claimed"
    assert q.claim(0)[0] == [] and q.get_job_counts()["waiting"] == 2, "0 claims nothing and promotes"
    assert [job_id for job_id, *_ in q.claim(5)[0]] == ["waiting", "due"]


@pytest.mark.parametrize("since", ["abc", 1.5, None, "1-x", "", " 1", "1-", "-1", "+", "$", "(1", "1-2-3", "٣",
                                   "18446744073709551616", "1-18446744073709551616", b"0", 0])
def test_replay_since_that_is_no_stream_id_is_a_clear_error(r: Any, since: Any) -> None:
    """QueueEvents.replay(since=...) went to XRANGE as '(' + since unchecked: these came back as Redis's 'Invalid
    stream ID specified as stream command argument', naming neither the argument nor the value (' 1' and the
    int 0 passed by accident: strtoull skips spaces, '(0' is an id). A ConfigError naming `since` now, before
    the round trip; so is a QueueEvents(last_id=...) XREAD would refuse at the first read (the CLI's SINCE)."""
    from labqueue import JobQueue
    from labqueue.events import QueueEvents

    q = JobQueue(r, "replay-since")
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    for job_id, _, token, _ in q.claim(3)[0]:
        q.finish(job_id, token, "completed", "1")
    events = QueueEvents(r, "replay-since")
    with pytest.raises(ConfigError, match=r"since must be a stream id .*, got "):
        events.replay(since)
    if since != "$":  # XREAD's 'newest entry', QueueEvents' default
        with pytest.raises(ConfigError, match=r"last_id must be a stream id .*, got "):
            QueueEvents(r, "replay-since", last_id=since)


def test_replay_takes_every_stream_id_xrange_does(r: Any) -> None:
    """'0' and '-' replay everything kept, 'ms-seq' what follows that entry, a bare 'ms' what follows 'ms-0'
    (XRANGE's reading), the largest id nothing ('-' and that id came back as Redis errors: '(-' is no id, and
    XRANGE refuses an exclusive start it cannot step past)."""
    from labqueue import JobQueue
    from labqueue.events import QueueEvents

    q = JobQueue(r, "replay-ids")
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    for job_id, _, token, _ in q.claim(3)[0]:
        q.finish(job_id, token, "completed", "1")
    events = QueueEvents(r, "replay-ids")
    every = events.replay()
    assert len(every) == 3 and events.replay("-") == every and events.replay("0-0") == every
    assert events.replay(every[0].stream_id) == every[1:]
    ms, seq = every[0].stream_id.split("-")
    assert events.replay(ms) == [e for e in every if e.stream_id != f"{ms}-0"]
    assert events.replay(str(2**64 - 1)) == [] and events.replay(f"{2**64 - 1}-{2**64 - 1}") == []
    assert events.replay(every[-1].stream_id) == []
    for last_id in ("$", "0", every[0].stream_id):
        assert QueueEvents(r, "replay-ids", last_id=last_id).last_id == last_id


def test_a_bad_promote_limit_or_peek_count_is_a_clear_error_and_moves_nothing(r: Any) -> None:
    """process_delayed_jobs(limit=-1) promoted every due job (ZRANGEBYSCORE LIMIT 0 -1), inf or 2.5 raised
    Redis's 'value is not an integer'; PriorityQueue.peek(0) listed every job (ZRANGE 0 -1) and peek(-1)
    all but one. Each is a ConfigError naming the argument; nothing moves."""
    from labqueue import DelayedQueue, PriorityQueue

    delayed = DelayedQueue(r, "limits")
    delayed.enqueue_many([{"type": "t"}] * 3, delay_seconds=60)
    later = time.time() + 3600
    for limit in BAD_COUNTS:
        for call in (delayed.process_delayed_jobs, delayed.promote):
            with pytest.raises(ConfigError, match=r"limit must be an integer from 1 to \d+, got "):
                call(now=later, limit=limit)
    with pytest.raises(ConfigError, match=r"limit must be an integer from 1 to 9223372036854775807, got "):
        delayed.promote(now=later, limit=2**63)  # more than ZRANGEBYSCORE's LIMIT takes
    assert delayed.delayed_size() == 3 and delayed.size() == 0
    assert delayed.process_delayed_jobs(now=later, limit=2) == 2
    assert delayed.process_delayed_jobs(now=later, limit=2**63 - 1) == 1  # the largest LIMIT, sent exactly
    ranked = PriorityQueue(r, "limits")
    ranked.enqueue_many([{"type": "t"}] * 3)
    for count in [*BAD_COUNTS, 2**63 + 1]:  # past ZRANGE's stop too
        with pytest.raises(ConfigError, match=r"count must be an integer (>= 1|from 1 to \d+), got "):
            ranked.peek(count)
    assert len(ranked.peek(2**63)) == 3
    assert len(ranked.peek(2)) == 2 and ranked.size() == 3


def test_negative_nack_delay_is_a_clear_error_and_changes_nothing(r: Any) -> None:
    """nack(delay=-1) raises naming the delay; the job stays in flight, untouched."""
    queue = ReliableQueue(r, "api")
    queue.enqueue({"type": "t"})
    job = queue.dequeue()
    assert job is not None
    nothing_written(r, lambda: queue.nack(job, "boom", delay=-1), ValueError, "delay must be a finite number >= 0")


def test_negative_delay_of_a_delayed_job_is_a_clear_error(r: Any) -> None:
    """DelayedQueue.enqueue(delay_seconds=-1) (and NaN, and a string) is refused; nothing written."""
    from labqueue.delayed import DelayedQueue

    queue = DelayedQueue(r, "later")
    for bad in (-1, math.nan, math.inf, "10"):
        nothing_written(r, lambda: queue.enqueue({"type": "t"}, delay_seconds=bad), InvalidJob, "delay_seconds")


def test_bad_priority_is_a_clear_error(r: Any) -> None:
    """A priority out of range or not an integer is refused; nothing written."""
    from labqueue.priority import PriorityQueue

    queue = PriorityQueue(r, "prio")
    for bad in (-1, "high", 1.5):
        nothing_written(r, lambda: queue.enqueue({"type": "t"}, priority=bad), InvalidJob, "priority must be")


def test_max_attempts_zero_at_enqueue_is_refused_not_replaced_by_the_default(r: Any) -> None:
    """enqueue(max_attempts=0) raises naming max_attempts and 0, instead of silently becoming 3."""
    for pattern in sorted(QUEUES):
        queue = QUEUES[pattern](r, "api")
        nothing_written(r, lambda: queue.enqueue({"type": "t"}, max_attempts=0), InvalidJob, "max_attempts.*got 0")


@pytest.mark.parametrize("delay", [math.inf, math.nan, -math.inf])
def test_non_finite_nack_delay_is_a_clear_error_and_changes_nothing(r: Any, delay: float) -> None:
    """nack(delay=inf or nan) raises naming the delay and its value; the job stays in flight, untouched."""
    queue = ReliableQueue(r, "api")
    queue.enqueue({"type": "t"})
    job = queue.dequeue()
    assert job is not None
    nothing_written(r, lambda: queue.nack(job, "boom", delay=delay), ConfigError, f"delay .*got {delay!r}")


def _jobqueue(**options: Any) -> Any:
    from labqueue.jobqueue import JobQueue
    import fakeredis

    return JobQueue(fakeredis.FakeRedis(), "settings", **options)


def _worker(**options: Any) -> Any:
    import fakeredis

    return Worker(ReliableQueue(fakeredis.FakeRedis(), "settings"), {}, **options)


def _reliable(**options: Any) -> Any:
    import fakeredis

    return ReliableQueue(fakeredis.FakeRedis(), "settings", **options)


@pytest.mark.parametrize("make, match", [
    (lambda: _reliable(lease_seconds=math.nan), "lease_seconds .*got nan"),
    (lambda: _reliable(lease_seconds=math.inf), "lease_seconds .*got inf"),
    (lambda: _reliable(lease_seconds="5"), "lease_seconds .*got '5'"),
    (lambda: _reliable(max_attempts=0), "max_attempts .*got 0"),
    (lambda: _reliable(max_attempts=2.5), "max_attempts .*got 2.5"),
    (lambda: _reliable(orphan_grace=-5), "orphan_grace .*got -5"),
    (lambda: _reliable(orphan_grace=math.nan), "orphan_grace .*got nan"),
    (lambda: _jobqueue(lease_seconds=math.nan), "lease_seconds .*got nan"),
    (lambda: _jobqueue(limiter={"max": 5, "duration": math.inf}), "duration .*got inf"),
    (lambda: _worker(concurrency=1.5), "concurrency .*got 1.5"),
    (lambda: _worker(concurrency=0), "concurrency .*got 0"),
    (lambda: _worker(poll_seconds=math.nan), "poll_seconds .*got nan"),
    (lambda: _worker(poll_seconds=math.inf), "poll_seconds .*got inf"),
    (lambda: _worker(prefetch=2.5), "prefetch .*got 2.5"),
    (lambda: Backoff.fixed(math.inf), "base .*got inf"),
    (lambda: Backoff.from_spec(math.nan), "base .*got nan"),
    (lambda: Backoff.exponential(1, factor=math.inf), "factor .*got inf"),
    (lambda: Backoff.exponential(1, cap=math.nan), "cap .*got nan"),
])
def test_infinite_nan_or_out_of_range_settings_are_refused_by_name(make: Callable[[], Any], match: str) -> None:
    """A NaN, infinite, fractional or out-of-range setting raises ConfigError naming the setting and its value."""
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: Backoff("linear"), "unknown backoff type 'linear'"),
    (lambda: Backoff.from_spec({"type": "linear", "delay": 1}), "unknown backoff type 'linear'"),
    (lambda: Backoff.from_spec({"type": "fixed", "dealy": 1}), "unknown backoff option"),
    (lambda: Backoff.exponential(1, jitter="random"), "unknown jitter 'random'"),
    (lambda: Backoff.fixed(-1), "base must be a finite number >= 0"),
    (lambda: Backoff.from_spec("soon"), "backoff must be a number of seconds"),
])
def test_bad_backoff_is_a_config_error(r: Any, make: Callable[[], Any], match: str) -> None:
    """An unknown backoff type or option raises ConfigError naming it; nothing written."""
    nothing_written(r, make, ConfigError, match)


@pytest.mark.parametrize("expr, tz, match", [
    ("61 * * * *", "UTC", "invalid cron expression '61 \\* \\* \\* \\*'"),
    ("* * *", "UTC", "expected 5 fields"),
    ("every monday", "UTC", "invalid cron expression"),
    ("0 9 * * 1", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
    ("0 9 * * 1", "", "time zone must be an IANA name"),
])
def test_bad_cron_expression_or_time_zone_is_a_config_error(r: Any, expr: str, tz: str, match: str) -> None:
    """An invalid cron expression or time zone raises ConfigError naming it; nothing written."""
    from labqueue.cron import CronQueue

    queue = CronQueue(r, "cron")
    nothing_written(r, lambda: queue.schedule_cron({"type": "report"}, expr, tz), ConfigError, match)


@pytest.mark.parametrize("url, match", [
    ("redis://:hunter2@localhost:notaport/0", "is malformed"),
    ("http://localhost:6379/0", "must start with redis://"),
    ("redis://", "is malformed"),
    ("localhost:6379", "must start with redis://"),
])
def test_malformed_redis_url_is_a_config_error_without_the_password(url: str, match: str,
                                                                    monkeypatch: Any) -> None:
    """connect() with a malformed URL (argument or REDIS_URL) raises ConfigError; the password is masked."""
    for attempt in (lambda: connect(url), lambda: (monkeypatch.setenv("REDIS_URL", url), connect())):
        with pytest.raises(ConfigError, match=match) as info:
            attempt()
        assert "hunter2" not in str(info.value)


# -- security -------------------------------------------------------------------------------------
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def package_sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def fixed_module(call: ast.Call, path: Path) -> bool:
    """True when a dynamic import names a module chosen by the code, never by data: a literal, an
    f-string under "labqueue.", or the operator's --handlers module in cli.py."""
    arg = call.args[0] if call.args else None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return True
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).startswith("labqueue.")
    return path.name == "cli.py" and isinstance(arg, ast.Name) and arg.id == "module_path"


def test_no_module_uses_pickle_eval_exec_or_dynamic_import() -> None:
    """No pickle-like module, no eval/exec/compile/__import__; dynamic imports only of fixed module names."""
    problems = []
    for path in package_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            problems += [f"{path.name}:{node.lineno} imports {n}" for n in names if n in FORBIDDEN_MODULES]
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                builtin = isinstance(func, ast.Name) or (isinstance(func, ast.Attribute)
                                                         and isinstance(func.value, ast.Name)
                                                         and func.value.id == "builtins")
                if called in FORBIDDEN_CALLS and builtin:  # re.compile is not compile()
                    problems.append(f"{path.name}:{node.lineno} calls {called}()")
                if called in ("import_module", "load_module", "exec_module") and not fixed_module(node, path):
                    problems.append(f"{path.name}:{node.lineno} imports code dynamically ({called})")
    assert problems == []
    assert len(package_sources()) >= 10  # the scan really saw the package


def test_the_only_dynamic_import_is_the_operators_handlers_module() -> None:
    """cli.py calls import_module once, on the --handlers argument (never on job data)."""
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "import_module"]
    assert len(calls) == 1 and [ast.unparse(a) for a in calls[0].args] == ["module_path"]
    loader = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "load_handlers")
    assert calls[0] in list(ast.walk(loader))


def test_a_job_naming_a_module_is_never_imported(r: Any) -> None:
    """A job whose type names a module is dead-lettered as an unknown type; the module is not imported."""
    queue = ReliableQueue(r, "evil")
    assert "antigravity" not in sys.modules
    queue.enqueue({"type": "antigravity", "data": "import this"})
    queue.enqueue({"type": "tests.handlers_for_tests.poison"})
    Worker(queue, {"work": lambda job: None}, burst=True, poll_seconds=0.05).run()
    assert "antigravity" not in sys.modules
    assert sorted(d.job.type for d in queue.dead_letters() if d.job) == ["antigravity", "tests.handlers_for_tests.poison"]


PASSWORD = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def locked_server() -> Any:
    """A private redis-server that requires a password."""
    require_redis_server()
    with RedisServer(password=PASSWORD) as server:
        yield server


def test_describe_never_shows_the_password(locked_server: RedisServer) -> None:
    """labqueue.describe names the server, never its password (also when the password is wrong)."""
    client = connect(locked_server.url)
    text = describe(client)
    assert "real Redis" in text and str(locked_server.port) in text and PASSWORD not in text
    wrong = connect(locked_server.url.replace(PASSWORD, PASSWORD + "x"))
    assert PASSWORD not in describe(wrong)


def test_worker_process_never_prints_the_password(locked_server: RedisServer, tmp_path: Path) -> None:
    """The CLI banner, logs and errors never contain the Redis password (a burst run, then a dead server)."""
    client = connect(locked_server.url)
    queue = ReliableQueue(client, "secret")
    queue.enqueue({"type": "work"})
    queue.enqueue({"type": "fail"})
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "labqueue", "worker", "--queue", "secret", "--handlers",
            "tests.handlers_for_tests", "--log-level", "DEBUG"]
    env_run = {**env, "REDIS_URL": locked_server.url}
    run = subprocess.run([*base, "--url", locked_server.url, "--burst", "--max-attempts", "1"], cwd=ROOT,
                         env=env_run, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "real Redis" in run.stderr and queue.dlq_size() == 1
    # a server that does not answer: the worker logs its reconnection attempts, still without the password
    dead_url = f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port + 1 if locked_server.port < 65535 else 1}/0"
    proc = subprocess.Popen([*base, "--url", dead_url], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, out
    assert "lost connection to Redis" in out
    assert PASSWORD not in run.stdout + run.stderr + out


def test_worker_connection_logs_never_show_the_password(caplog: Any, locked_server: RedisServer) -> None:
    """An in-process Worker that loses its server logs the loss and the retry delay, not the password."""
    client = redis.Redis.from_url(locked_server.url.replace(str(locked_server.port), "1"),
                                  socket_connect_timeout=0.2)
    client.set_retry(redis.retry.Retry(redis.backoff.NoBackoff(), 0))
    queue = SimpleQueue(client, "gone")
    worker = Worker(queue, {}, poll_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="labqueue.worker"):
        worker.start()
        time.sleep(0.5)
        worker.stop(timeout=5)
    assert worker.alive == 0 and worker.stats["errors"] == 0
    assert "lost connection to Redis" in caplog.text and "retrying in 0.1 s" in caplog.text
    assert PASSWORD not in caplog.text


def worker_cli(url: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run `python -m labqueue worker` to its end; fail (not hang) if it does not end within `timeout`."""
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "labqueue", "worker", "--queue", "refused", "--handlers",
                               "tests.handlers_for_tests", "--url", url, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the worker was still retrying after {timeout} s: {exc.stderr!r}"[-600:])


def one_refusal_line(stderr: str, what: str) -> None:
    """stderr says `what` on exactly one line: no traceback, no reconnection loop."""
    assert len([line for line in stderr.splitlines() if what in line]) == 1, stderr
    assert "Traceback" not in stderr and "lost connection" not in stderr, stderr


@pytest.mark.parametrize("pattern, burst", [("reliable", True), ("simple", True), ("reliable", False),
                                            ("production", False)])
def test_cli_worker_with_a_wrong_password_exits_2_with_one_line(locked_server: RedisServer, pattern: str,
                                                                 burst: bool) -> None:
    """A wrong password ends the worker process at once: status 2, one line, no retry loop, no password."""
    run = worker_cli(locked_server.url.replace(PASSWORD, PASSWORD + "x"), "--pattern", pattern,
                     *(["--burst"] if burst else []))
    assert run.returncode == 2, run.stderr
    one_refusal_line(run.stderr, "authentication failed")
    assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.parametrize("pattern", ["reliable", "production"])
def test_cli_worker_whose_password_changes_while_running_exits_2_with_one_line(pattern: str) -> None:
    """A running worker whose password stops working (rotated, connections killed) exits 2 with one line."""
    require_redis_server()
    with RedisServer(password=PASSWORD) as server:
        env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "labqueue", "worker", "--queue", "rotated", "--handlers",
                                 "tests.handlers_for_tests", "--url", server.url, "--pattern", pattern,
                                 "--poll", "0.2"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            admin = redis.Redis.from_url(server.url)
            deadline = time.monotonic() + 20
            while admin.client_list().__len__() < 2:  # the worker is connected
                assert time.monotonic() < deadline and proc.poll() is None, "the worker did not start"
                time.sleep(0.05)
            admin.config_set("requirepass", "rotated-" + PASSWORD)
            admin.client_kill_filter(_type="normal", skipme=True)
            stderr = proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"the worker kept retrying a password that no longer works: {proc.communicate()[1][-600:]!r}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 2, stderr
    one_refusal_line(stderr, "authentication failed")
    assert PASSWORD not in stderr


@pytest.fixture
def limited_client(locked_server: RedisServer) -> Any:
    """A client of an ACL user that may only touch keys other:*, not the queue's lq:* keys."""
    admin = connect(locked_server.url)
    admin.acl_setuser("limited", enabled=True, passwords=["+limited-pw"], keys=["other:*"], commands=["+@all"])
    client = redis.Redis(host="127.0.0.1", port=locked_server.port, username="limited", password="limited-pw",
                         decode_responses=True)
    yield client
    client.close()
    admin.acl_deluser("limited")


@pytest.mark.parametrize("kind", ["Worker", "JobQueue"])
def test_a_worker_without_permission_stops_with_one_clear_line(limited_client: Any, caplog: Any, kind: str) -> None:
    """NOPERM ends the worker (every thread, the heartbeat) with `fatal` set and one error line, no traceback."""
    from labqueue.jobqueue import JobQueue

    with caplog.at_level(logging.WARNING):
        if kind == "Worker":
            worker: Any = Worker(ReliableQueue(limited_client, "guarded"), {}, concurrency=2, poll_seconds=0.05).start()
            threads = worker._threads
        else:
            worker = JobQueue(limited_client, "guarded").process("work", lambda job: None, concurrency=2,
                                                                  poll_seconds=0.05)
            threads = worker._threads
        deadline = time.monotonic() + 10
        while any(t.is_alive() for t in threads):
            assert time.monotonic() < deadline, "worker threads kept retrying a command they may not run"
            time.sleep(0.02)
        worker.stop(timeout=5)
    assert worker.fatal and "no permission" in worker.fatal
    assert [r.levelname for r in caplog.records if "no permission" in r.getMessage()] == ["ERROR"]
    assert all(r.exc_info is None for r in caplog.records), caplog.text


def test_a_scheduler_without_permission_stops_with_one_clear_line(limited_client: Any, caplog: Any) -> None:
    """NOPERM ends a delayed/cron scheduler thread with `fatal` set and one error line, instead of retrying forever."""
    from labqueue.cron import CronQueue

    with caplog.at_level(logging.WARNING, logger="labqueue.scheduler"):
        scheduler = CronQueue(limited_client, "guarded").start_scheduler(max_sleep=0.1)
        scheduler._thread.join(5)
        alive = scheduler._thread.is_alive()
        scheduler._stop.set()
    assert not alive, "the scheduler kept retrying a command it may not run"
    assert scheduler.fatal and "no permission" in scheduler.fatal
    assert [r.levelname for r in caplog.records] == ["ERROR"], caplog.text


SPECIAL = "s3cret/Pa55#w?rd@x="  # a password with every character that breaks a URL


def events_cli(url: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "labqueue.events", url, "q", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("url, status, message", [
    (f"redis://:{SPECIAL}@127.0.0.1:1/0", 2, "must be percent-encoded"),
    ("redis://:s3cret@127.0.0.1:1/0?timeout=1", 2, "unknown option(s) 'timeout'"),
    ("redis://:s3cret@127.0.0.1:1/0", 1, "cannot read events"),
])
def test_events_cli_errors_are_one_line_without_the_password(url: str, status: int, message: str) -> None:
    """python -m labqueue.events with a bad URL or no server prints one line (no traceback, no password)."""
    run = events_cli(url)
    assert run.returncode == status, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "s3cret" not in run.stdout + run.stderr


def test_events_cli_with_a_wrong_password_says_so_in_one_line(locked_server: RedisServer) -> None:
    """python -m labqueue.events refused by the server (wrong password) exits 2 with one line, no password."""
    run = events_cli(locked_server.url.replace(PASSWORD, PASSWORD + "x"))
    assert run.returncode == 2, run.stderr
    assert "authentication" in run.stderr.lower() and "Traceback" not in run.stderr
    assert PASSWORD not in run.stdout + run.stderr


def test_banners_never_show_a_password_with_special_characters() -> None:
    """describe, the notebooks' backend line, the chaos lab's server line, the admin and metrics URLs: no password."""
    from labqueue.admin import AdminServer
    from labqueue.jobqueue import JobQueue
    from labqueue.lab.chaos import Server
    from labqueue.lab.session import backend_line
    from labqueue.metrics import MetricsExporter

    require_redis_server()
    with RedisServer(password=SPECIAL) as server:
        client = connect(server.url)
        assert client.ping()
        admin = AdminServer(JobQueue(client, "banner"), token="t" * 24).start()
        exporter = MetricsExporter(client, ["banner"])
        try:
            shown = [describe(client), backend_line(client), Server(server.url, "REDIS_URL").describe(),
                     admin.url, exporter.serve(), repr(client), repr(client.connection_pool)]
        finally:
            admin.close()
            exporter.close()
    assert all("s3cret" not in line and "Pa55" not in line for line in shown), shown
    assert str(server.port) in shown[0]


def test_labqueue_exports_no_loader() -> None:
    """The public API has nothing that loads code or pickles."""
    assert not any(n.lower().startswith(("pickle", "load", "eval")) for n in labqueue.__all__)


@pytest.mark.parametrize("make", [lambda r: ReliableQueue(r, "none-ack"), lambda r: SimpleQueue(r, "none-ack")])
@pytest.mark.parametrize("operation", ["ack", "nack"])
def test_ack_or_nack_of_none_says_the_dequeue_timed_out(r, make, operation):
    """ack(None)/nack(None) (a dequeue that timed out) raise one sentence, not redis-py's DataError."""
    q = make(r)
    assert q.dequeue(timeout=0.01) is None
    with pytest.raises(TypeError, match=r"there is no job to .*dequeue\(\) returns None"):
        getattr(q, operation)(None)


@pytest.mark.parametrize("delay", [0, 5])
def test_delayed_enqueue_many_refuses_one_job_id_for_many_jobs(r: Any, delay: float) -> None:
    """DelayedQueue.enqueue_many(jobs, job_id=...) gave every job that one id; it is a ConfigError, nothing queued."""
    from labqueue import DelayedQueue

    q = DelayedQueue(r, "one-id")
    with pytest.raises(ConfigError, match="job_id 'x' names one job; enqueue_many got 2"):
        q.enqueue_many([{"a": 1}, {"a": 2}], delay, job_id="x")
    assert q.size() == 0 and q.delayed_size() == 0
    assert q.enqueue_many([{"a": 1}], delay, job_id="x") == ["x"]  # one job, one id: as enqueue() does
