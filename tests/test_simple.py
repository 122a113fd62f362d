"""SimpleQueue: the chapter's FIFO list."""

from __future__ import annotations

import threading

import pytest

from labqueue import InvalidJob, PayloadTooLarge, SimpleQueue, Worker
from labqueue.lab.crashing import CrashingWorker


def test_fifo_order(rd):
    """Jobs come out in the order they went in, with str and bytes clients alike."""
    q = SimpleQueue(rd, "fifo")
    ids = [q.enqueue({"type": "t", "n": i}) for i in range(20)]
    out = [q.dequeue().id for _ in range(20)]
    assert out == ids
    assert q.dequeue() is None and q.size() == 0


def test_enqueue_many_keeps_order(r):
    """enqueue_many adds jobs in one LPUSH and they come out in order."""
    q = SimpleQueue(r, "bulk")
    ids = q.enqueue_many({"n": i} for i in range(50))
    assert [q.dequeue(timeout=0.1).id for _ in range(50)] == ids


def test_fifo_across_threads(r):
    """With several producer threads, each producer's jobs come out in its own order."""
    q = SimpleQueue(r, "threads")

    def produce(p: int) -> None:
        for i in range(50):
            q.enqueue({"p": p, "i": i})

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen: dict[int, list[int]] = {p: [] for p in range(4)}
    while (job := q.dequeue()) is not None:
        seen[job.data["p"]].append(job.data["i"])
    assert all(seen[p] == list(range(50)) for p in range(4))


def test_blocking_dequeue_times_out_empty(r):
    """dequeue(timeout) on an empty queue returns None after waiting."""
    assert SimpleQueue(r, "empty").dequeue(timeout=0.1) is None


def test_blocking_dequeue_wakes_on_enqueue(r, make_client):
    """A blocked dequeue returns the job pushed by another client."""
    q = SimpleQueue(r, "wake")
    other = SimpleQueue(make_client(), "wake")
    got = []
    t = threading.Thread(target=lambda: got.append(q.dequeue(timeout=5)))
    t.start()
    job_id = other.enqueue({"x": 1})
    t.join(6)
    assert got and got[0] is not None and got[0].id == job_id


def test_clear(r):
    """clear deletes the queue's keys."""
    q = SimpleQueue(r, "c")
    q.enqueue({"a": 1})
    assert q.clear() == 1 and q.size() == 0


def test_bad_data_rejected_nothing_written(r):
    """Non-serialisable, non-dict and oversized data are refused with a clear error; Redis untouched."""
    q = SimpleQueue(r, "bad", max_payload_bytes=1000)
    with pytest.raises(InvalidJob, match="not JSON-serialisable"):
        q.enqueue({"when": {1, 2}})
    with pytest.raises(InvalidJob, match="must be a dict"):
        q.enqueue(["a", "list"])  # type: ignore[arg-type]
    with pytest.raises(PayloadTooLarge, match="over the limit of 1,000 bytes"):
        q.enqueue({"blob": "x" * 2000})
    with pytest.raises(InvalidJob, match="not JSON-serialisable"):
        q.enqueue({"x": float("nan")})
    assert r.dbsize() == 0


def test_crashed_worker_loses_its_job(r):
    """On a simple queue a worker that dies mid-job loses that job: it is nowhere in Redis."""
    q = SimpleQueue(r, "lossy")
    q.enqueue({"type": "t"})
    done = []
    w = CrashingWorker(q, {"t": done.append}, burst=True, poll_seconds=0.1)
    w.crash(1)
    w.run()
    assert w.stats["crashed"] == 1 and not done
    assert q.size() == 0 and q.dlq_size() == 0


def test_non_json_entry_goes_to_dlq(r):
    """A non-JSON entry in the list is dead-lettered with its reason, not raised."""
    q = SimpleQueue(r, "junk")
    r.lpush(q.keys.waiting, "{not json")
    assert q.dequeue() is None
    [dead] = q.dead_letters()
    assert "not valid JSON" in dead.reason and dead.raw == "{not json"


def test_clear_removes_quarantined_keys(r):
    """clear() also deletes keys moved aside by quarantine, and nothing of other queues."""
    q = SimpleQueue(r, "q1")
    q.enqueue({"a": 1})
    r.set(q.keys.quarantine(1), "moved aside")
    r.set(q.keys.quarantine_seq, 1)
    other = SimpleQueue(r, "q2")
    other.enqueue({"b": 2})
    assert q.clear() == 3
    assert r.keys("lq:{q1}:*") == [] and other.size() == 1


@pytest.mark.parametrize("name", ["a*", "a?c", "[ab]bc", "a\\"])
def test_clear_never_deletes_another_queue_s_keys_moved_aside(r, name):
    """clear() and JobQueue.obliterate() find the keys moved aside with SCAN MATCH lq:{<name>}:quarantine:*:
    the queue's name went into the pattern unescaped, so clearing queue 'a*' (a legal name) deleted what
    quarantine had moved aside for queue 'abc' (and 'a?c', '[ab]bc' alike): evidence an operator had
    not looked at yet, gone. The name is matched literally now."""
    from labqueue import JobQueue

    victim = "abc" if name != "a\\" else "a\\b"
    kept = SimpleQueue(r, victim).keys.quarantine(7)
    r.set(kept, "moved aside for the victim queue")
    SimpleQueue(r, name).clear()
    JobQueue(r, name).obliterate()
    assert r.get(kept) is not None, f"clearing queue {name!r} deleted {kept!r}"


def test_bury_keeps_an_earlier_dead_letter_of_the_same_id(r):
    """A job id dead-lettered twice (a producer reusing it): bury.lua's HSET replaced the first entry and its
    meta, so the first dead job vanished. Both are kept, the second under '<n>:<id>' (as nack.lua does);
    dead_letters() lists both, delete_dead() and replay_dead() work on each."""
    q = SimpleQueue(r, "twice")
    for n, reason in ((1, "first"), (2, "second"), (3, "third")):
        q.enqueue({"type": "t", "n": n}, job_id="dup")
        q.bury(q.dequeue(), reason)
    letters = sorted(q.dead_letters(), key=lambda d: d.job.data["n"])
    assert [(d.job.id, d.job.data["n"], d.reason) for d in letters] == [
        ("dup", 1, "first"), ("dup", 2, "second"), ("dup", 3, "third")]
    assert letters[0].id == "dup" and all(d.id.endswith(":dup") for d in letters[1:])
    assert len({d.id for d in letters}) == 3 and q.dlq_size() == 3
    assert q.delete_dead(letters[2].id) and q.dlq_size() == 2
    assert q.replay_dead(letters[1].id) == 1 and q.replay_dead() == 1 and q.dlq_size() == 0
    assert sorted(q.dequeue().data["n"] for _ in range(2)) == [1, 2]


def test_bury_keeps_an_earlier_entry_that_is_no_job_under_a_reused_id(r):
    """An entry that is no job is buried as 'invalid:<n>' from the seq counter; a counter that restarted
    (deleted by hand) handed out 'invalid:1' again and the first entry was overwritten. Both are kept."""
    q = SimpleQueue(r, "reused-seq")
    r.lpush(q.keys.waiting, "not a job 1")
    assert q.dequeue() is None
    r.delete(q.keys.seq)
    r.lpush(q.keys.waiting, "not a job 2")
    assert q.dequeue() is None
    assert sorted(d.raw for d in q.dead_letters()) == ["not a job 1", "not a job 2"]
