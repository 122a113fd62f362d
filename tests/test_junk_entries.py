"""Any bytes at all in a queue become a job or a dead letter with a reason (issue 10, item 5).

Property tests (hypothesis): arbitrary JSON values in every field of a job record, and arbitrary
byte strings pushed into the waiting list, go through the parse path and through a running worker;
nothing raises anything but InvalidJob, nothing is lost, no worker thread dies.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labqueue import Backoff, InvalidJob, Job, ReliableQueue, SimpleQueue, Worker

DEEP = "[" * 100_000 + "]" * 100_000
NAMED_JUNK = [
    b'{"id":"huge","type":"work","data":{},"max_attempts":1e400}',  # OverflowError in int(inf)
    b'{"id":"nan","type":"work","data":{},"max_attempts":NaN}',
    b'{"id":"ts","type":"work","data":{},"enqueued_at":-1e400}',
    b'{"id":"deep","type":"work","data":{"x":' + DEEP.encode() + b"}}",  # RecursionError in json.loads
    DEEP.encode(),
    b'{"id":"bad-utf8","type":"work","data":{"x":"\xff\xfe"}}',  # UnicodeDecodeError with decode_responses
    b"\xc3\x28 not utf-8 at all",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8)
names = itertools.count()


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(["max_attempts", "enqueued_at", "priority", "run_at", "other"]),
                             st.integers() | st.floats() | json_values)
       | st.dictionaries(st.sampled_from(["id", "type", "data"]), json_values, max_size=1))
def test_any_json_record_parses_to_a_job_or_raises_invalid_job(fields: dict[str, Any]) -> None:
    """Job.from_json raises nothing but InvalidJob, and a parsed job has sane numbers."""
    raw = json.dumps({"id": "x", "type": "t", "data": {}, **fields})
    try:
        job = Job.from_json(raw)
    except InvalidJob:
        return
    assert isinstance(job.max_attempts, int) and job.max_attempts >= 1
    assert job.enqueued_at == job.enqueued_at and abs(job.enqueued_at) != float("inf")


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64))
@example(raw=NAMED_JUNK[0])
@example(raw=NAMED_JUNK[3])
@example(raw=NAMED_JUNK[5])
def test_any_bytes_parse_to_a_job_or_raise_invalid_job(raw: bytes) -> None:
    """Job.from_json on arbitrary bytes (deep nesting, huge numbers, bad UTF-8) raises nothing but InvalidJob."""
    try:
        Job.from_json(raw)
    except InvalidJob:
        pass


def pushed_junk(r: Any, queue: Any, entries: list[bytes]) -> None:
    for raw in entries:
        r.lpush(queue.keys.waiting, raw)


@pytest.mark.parametrize("pattern", ["reliable", "simple"])
def test_named_junk_reaches_the_dlq_and_no_worker_thread_dies(rd: Any, pattern: str) -> None:
    """1e400, NaN, deep nesting and invalid UTF-8 (both decode modes) end in the DLQ with a reason; good jobs run."""
    cls = ReliableQueue if pattern == "reliable" else SimpleQueue
    queue = cls(rd, f"junk-{pattern}", **({"lease_seconds": 1, "backoff": Backoff.fixed(0)} if pattern == "reliable" else {}))
    done: list[int] = []
    queue.enqueue({"type": "work", "n": 0})
    pushed_junk(rd, queue, NAMED_JUNK)
    queue.enqueue({"type": "work", "n": 1})
    worker = Worker(queue, {"work": lambda job: done.append(job.data["n"])}, concurrency=2, burst=True,
                    poll_seconds=0.05)
    worker.run()
    assert sorted(done) == [0, 1] and worker.stats["errors"] == 0
    assert queue.dlq_size() == len(NAMED_JUNK) and queue.size() == 0
    reasons = [text.decode() if isinstance(text, bytes) else text for text in rd.hvals(queue.keys.dlq_meta)]
    assert all(json.loads(m)["reason"] for m in reasons)
    if pattern == "reliable":
        assert queue.processing_size() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.binary(max_size=48) | json_values.map(lambda v: json.dumps(v).encode())
                        | st.builds(lambda f: json.dumps({"id": "x", "type": "work", "data": {}, **f}).encode(),
                                    st.dictionaries(st.sampled_from(["max_attempts", "enqueued_at", "data", "id"]),
                                                    json_values, max_size=2)),
                        min_size=1, max_size=6))
def test_a_running_worker_turns_any_entries_into_jobs_or_dead_letters(rd: Any, entries: list[bytes]) -> None:
    """Arbitrary entries through a reliable worker: each is run or dead-lettered, nothing stays, no thread dies."""
    queue = ReliableQueue(rd, f"junk-run-{next(names)}", lease_seconds=1, max_attempts=1, backoff=Backoff.fixed(0))
    ran: list[str] = []
    pushed_junk(rd, queue, entries)
    worker = Worker(queue, {"work": lambda job: ran.append(job.id)}, concurrency=2, burst=True, poll_seconds=0.05,
                    prefetch=3)
    worker.run()
    assert worker.stats["errors"] == 0 and worker.alive == 0
    assert queue.size() == 0 and queue.processing_size() == 0 and queue.delayed_size() == 0
    assert len(ran) + queue.dlq_size() == len(entries)  # every entry ran once or is dead-lettered
    queue.clear()


def test_recovery_never_reads_infinity_from_a_junk_max_attempts(r: Any) -> None:
    """A leased entry with max_attempts 1e400 whose worker died is dead-lettered once the queue's attempts are spent."""
    q = ReliableQueue(r, "junk-recover", lease_seconds=0.1, max_attempts=1)
    r.lpush(q.keys.waiting, '{"id":"inf","type":"work","data":{},"max_attempts":1e400}')

    class Died(Exception):
        pass

    def die(*args: Any, **kwargs: Any) -> None:
        raise Died  # the worker dies after the script leased the entry, before parsing it

    q._parse = die  # type: ignore[method-assign]
    with pytest.raises(Died):
        q.claim(1)
    import time
    time.sleep(0.15)
    assert q.recover_stale_jobs()["dead"] == 1 and q.size() == 0 and q.processing_size() == 0


def test_an_entry_with_an_empty_id_is_dead_lettered_and_the_worker_goes_on(r: Any) -> None:
    """An entry whose id is "" (no delivery token can name it) goes to the DLQ; the worker runs the next job."""
    q = ReliableQueue(r, "empty-id", lease_seconds=1)
    r.lpush(q.keys.waiting, '{"id":"","type":"t","data":{}}')
    q.enqueue({"type": "t"}, job_id="fine")
    done: list[str] = []
    worker = Worker(q, {"t": lambda job: done.append(job.id)}, burst=True, poll_seconds=0.1).run()
    assert done == ["fine"] and worker.stats["errors"] == 0 and q.dlq_size() == 1
    assert "string id" in q.dead_letters()[0].reason  # dead-lettered as it was claimed (entry.lua)


@pytest.mark.parametrize("take", ["claim", "dequeue"])
def test_an_entry_whose_id_is_not_utf8_is_dead_lettered_at_once(rd: Any, take: str) -> None:
    """An entry whose id holds bytes that are not UTF-8 goes to the DLQ as it is taken, with its reason.

    Its delivery token ('<n>:<id>') is not UTF-8 either: decoded for the dead-letter nack, it named
    no delivery, the nack changed nothing, and the entry stayed leased in processing until recovery
    sent it round again, max_attempts times, to end in the DLQ as 'the worker died or hung'.
    """
    q = ReliableQueue(rd, "bad-utf8-id", lease_seconds=30)
    rd.lpush(q.keys.waiting, b'{"id":"bad-\xff","type":"t","data":{}}')
    q.enqueue({"type": "t"}, job_id="fine")
    jobs = q.claim(5)[0] if take == "claim" else [q.dequeue(), q.dequeue()]
    assert [job.id for job in jobs if job is not None] == ["fine"]
    assert q.ack(*[job for job in jobs if job is not None]) == 1
    assert q.processing_size() == 0 and rd.hlen(q.keys.inflight) == 0 and rd.zcard(q.keys.leases) == 0
    assert q.dlq_size() == 1 and "UTF-8" in q.dead_letters()[0].reason


def test_lease_inspection_shows_a_junk_lease_member_under_its_raw_text(rd: Any) -> None:
    """A member of the leases zset that is no delivery token (written by hand: no '<n>:' in front) made
    leases() and next_lease_deadline() raise IndexError (split(':')[1]). Inspection shows it under its
    raw text now, as recover.lua sees it (no '<digits>:' prefix: no job id), beside the real leases."""
    q = ReliableQueue(rd, "junk-leases", lease_seconds=60)
    q.enqueue({"type": "t"}, job_id="real")
    (job,), _ = q.claim(1)
    now = float(rd.time()[0])
    rd.zadd(q.keys.leases, {"junk": now + 5, "abc:x": now + 600, b"\xff:y": now + 700})
    left = q.leases()
    assert set(left) == {"real", "junk", "abc:x", "\ufffd:y"}
    assert 0 < left["junk"] <= 5 and 50 < left["real"] <= 60
    deadline = q.next_lease_deadline()
    assert deadline is not None and deadline - now <= 6  # the junk member's: recover.lua drops it then
    q.ack(job)
    assert set(q.leases()) == {"junk", "abc:x", "\ufffd:y"}
