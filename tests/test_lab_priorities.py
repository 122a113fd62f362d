"""Notebook 03 helpers: score encoding, ties, per-priority counts, starvation under load."""

from __future__ import annotations

from labqueue import PriorityQueue
from labqueue.lab import priorities as pr


def test_score_of_matches_the_stored_score(r):
    """score_of(priority, seq) is the score priority_push.lua stores."""
    q = PriorityQueue(r, "p")
    q.enqueue({"a": 1}, priority=7)
    q.enqueue({"a": 2}, priority=3)
    scores = [s for _, s in r.zrange(q.keys.priority, 0, -1, withscores=True)]
    assert scores == [pr.score_of(3, 2), pr.score_of(7, 1)]


def test_waiting_by_priority_counts_each_band(r):
    """waiting_by_priority counts the jobs of each priority, and nothing of others."""
    q = PriorityQueue(r, "p")
    q.enqueue_many([{"i": i} for i in range(3)], priority=1)
    q.enqueue_many([{"i": i} for i in range(2)], priority=10)
    q.enqueue({"i": 9}, priority=5)
    assert pr.waiting_by_priority(q, [1, 5, 10, 2]) == {1: 3, 5: 1, 10: 2, 2: 0}


def test_drain_returns_priority_then_arrival_order(r):
    """drain pops lower priority numbers first and equal priorities in arrival order."""
    q = PriorityQueue(r, "p")
    for i, p in enumerate([10, 1, 5, 1, 10, 5]):
        q.enqueue({"i": i}, priority=p)
    assert [j.data["i"] for j in pr.drain(q)] == [1, 3, 2, 5, 0, 4]
    assert q.size() == 0


def test_chapter_ties_are_not_fifo(r):
    """With the chapter's ZADD priority job_id, equal priorities pop in id order, not arrival order."""
    order = pr.chapter_tie_order(r, "chapter", 12, seed=0)
    assert sorted(order) == list(range(12)) and order != list(range(12))
    assert r.exists("chapter") == 0


def test_starvation_low_jobs_wait_for_the_load_to_end(r):
    """Under a steady HIGH load no LOW job is served; all are served once the load stops."""
    q = PriorityQueue(r, "starve")
    e = pr.StarvationExperiment(q, low_jobs=5, high_backlog=30, high_rate=120, workers=1,
                                job_seconds=0.02, load_seconds=0.6, live=False)
    e.run()
    assert not e.stopped_early
    assert e.low_waiting_when_load_ended == 5
    assert q.size() == 0 and e.served_count(q.PRIORITY_LOW) == 5
    assert len(e.served) == 5 + 30 + e.producer.jobs
    assert [s.priority for s in e.served][-5:] == [q.PRIORITY_LOW] * 5
