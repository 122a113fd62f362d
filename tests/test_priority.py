"""PriorityQueue: lower number first, FIFO among equal priorities, data atomic with its entry."""

from __future__ import annotations

import threading

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labqueue import InvalidJob, PriorityQueue


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(priorities=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_order_is_priority_then_arrival(make_client, priorities):
    """Dequeue order is sorted by priority, and by enqueue order within a priority (property)."""
    r = make_client()
    q = PriorityQueue(r, "prop")
    q.clear()
    for i, p in enumerate(priorities):
        q.enqueue({"i": i}, priority=p)
    out = []
    while (job := q.dequeue()) is not None:
        out.append((job.priority, job.data["i"]))
    assert out == sorted((p, i) for i, p in enumerate(priorities))


def test_chapter_priorities(rd):
    """HIGH (1) before NORMAL (5) before LOW (10), with bytes and str clients."""
    q = PriorityQueue(rd)
    q.enqueue({"n": "low"}, priority=q.PRIORITY_LOW)
    q.enqueue({"n": "normal"})
    q.enqueue({"n": "high"}, priority=q.PRIORITY_HIGH)
    assert [j.data["n"] for j in q.peek(3)] == ["high", "normal", "low"]
    assert [q.dequeue(timeout=0.5).data["n"] for _ in range(3)] == ["high", "normal", "low"]


def test_blocking_dequeue_wakes(r, make_client):
    """A blocked dequeue (BZPOPMIN) returns a job enqueued by another client."""
    q = PriorityQueue(r, "b")
    got = []
    t = threading.Thread(target=lambda: got.append(q.dequeue(timeout=5)))
    t.start()
    PriorityQueue(make_client(), "b").enqueue({"x": 1}, priority=3)
    t.join(6)
    assert got[0] is not None and got[0].priority == 3


def test_no_ttl_job_data_is_the_member(r):
    """A waiting job has no separate data key and no TTL: nothing can expire under it."""
    q = PriorityQueue(r, "ttl")
    q.enqueue({"x": 1})
    assert r.keys("*data*") == [] and r.ttl(q.keys.priority) == -1


def test_enqueue_many_and_peek(r):
    """enqueue_many keeps arrival order within one priority; peek does not remove."""
    q = PriorityQueue(r, "many")
    ids = q.enqueue_many(({"i": i} for i in range(5)), priority=2)
    assert [j.id for j in q.peek(10)] == ids and q.size() == 5


@pytest.mark.parametrize("bad", [-1, 10_001, 1.5, "1", True])
def test_bad_priority(bad):
    """A priority outside 0..10000 or not an int is refused; nothing written."""
    r = fakeredis.FakeRedis()
    with pytest.raises(InvalidJob, match="priority must be an integer"):
        PriorityQueue(r, "bad").enqueue({"x": 1}, priority=bad)
    assert r.dbsize() == 0


def test_replay_keeps_priority(r):
    """A dead-lettered job replays into the sorted set with its own priority."""
    q = PriorityQueue(r, "dlq")
    q.enqueue({"n": "a"}, priority=7)
    job = q.dequeue()
    q.nack(job, "failed")
    q.enqueue({"n": "b"}, priority=9)
    assert q.replay_dead() == 1
    assert [j.data["n"] for j in q.peek()] == ["a", "b"]
