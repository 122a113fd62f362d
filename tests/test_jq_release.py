"""jq_release.lua: a job claimed but not run, handed back when its worker stops, stands in line again
where it stood: ahead of every job of its own level that was waiting, a released batch in its order.

A Worker releases its batch's rest last first (`Worker._work`), as the tests below do by hand."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from labqueue.jobdelivery import ActiveJob
from labqueue.jobqueue import JobQueue
from labqueue.jobspec import MAX_PRIORITY
from labqueue.scripts import Outcome

LEVEL = 2**32  # jq_lib.lua ready(): score = priority * 2^32 + sequence (labqueue.priority_score.LEVEL)


def make(r: Any) -> JobQueue:
    return JobQueue(r, "jobs", lease_seconds=30.0)


def claim(q: JobQueue, n: int) -> list[ActiveJob]:
    jobs = [q._start(*c, processed_on=0.0) for c in q.claim(n)[0]]
    assert all(job is not None for job in jobs)
    return jobs  # type: ignore[return-value]


def release_as_a_worker_does(q: JobQueue, jobs: list[ActiveJob]) -> None:
    for job in reversed(jobs):
        assert q.release(job) == Outcome.RELEASED


def claim_all(q: JobQueue) -> list[str]:
    return [job.id for job in claim(q, 1000)]


@pytest.mark.parametrize("priority", [3, MAX_PRIORITY])
def test_released_priority_jobs_stand_in_line_again_in_their_order(r: Any, priority: int) -> None:
    """p1..p4 of one priority; p1, p2 claimed and released: p1, p2, p3, p4, then a later p5. The old
    code gave each released job a new sequence number: p3, p4, p2, p1, p5 (behind later jobs, reversed).
    MAX_PRIORITY (2^21 - 1): the scores near 2^53 stay exact (no rounding, no ties)."""
    q = make(r)
    ids = [q.add("j", {"i": i}, priority=priority) for i in range(4)]
    taken = claim(q, 2)
    assert [job.id for job in taken] == ids[:2]
    release_as_a_worker_does(q, taken)
    ids.append(q.add("j", {"i": 4}, priority=priority))
    assert [job.id for job in q.get_jobs("waiting")] == ids
    scores = [score for _, score in r.zrange(q.keys.prio, 0, -1, withscores=True)]
    assert len(set(scores)) == 5 and all(score == int(score) for score in scores)  # no tie: ids are no tiebreak
    assert claim_all(q) == ids


def test_released_jobs_of_every_kind_keep_their_place_among_levels(r: Any) -> None:
    """Jobs without priority first, then priority 1, then 2 (as in BullMQ); a released batch that mixes them
    goes back to each one's place: ahead of its level's waiting and later jobs, behind better levels."""
    q = make(r)
    n = [q.add("j", {"n": i}) for i in range(2)]
    b = [q.add("j", {"b": i}, priority=2) for i in range(3)]
    a = [q.add("j", {"a": i}, priority=1) for i in range(2)]
    taken = claim(q, 5)
    assert [job.id for job in taken] == [*n, *a, b[0]]
    release_as_a_worker_does(q, taken)
    n.append(q.add("j", {"n": 2}))
    a.append(q.add("j", {"a": 2}, priority=1))
    b.append(q.add("j", {"b": 3}, priority=2))
    assert claim_all(q) == [*n, *a, *b]


def test_many_releases_keep_the_order_and_the_scores_inside_their_level(r: Any) -> None:
    """Claimed and released 50 times over, with a job of the level after waiting: the order never changes,
    and the scores do not creep (the old code gave each release a new, ever larger sequence number):
    each level's jobs score inside its own 2^32 range, above every score of the level before."""
    q = make(r)
    above = q.add("j", {}, priority=1)
    ids = [q.add("j", {"i": i}, priority=2) for i in range(5)]
    below = q.add("j", {}, priority=3)
    first_scores = None
    for _ in range(50):
        taken = claim(q, 4)
        assert [job.id for job in taken] == [above, *ids[:3]]
        release_as_a_worker_does(q, taken)
        scores = dict(r.zrange(q.keys.prio, 0, -1, withscores=True))
        first_scores = first_scores or scores
        assert scores == first_scores
    assert first_scores is not None
    assert 0 < first_scores[above] < min(first_scores[i] for i in ids)
    assert max(first_scores[i] for i in ids) < first_scores[below] < 4 * LEVEL
    assert all(2 * LEVEL - LEVEL // 2 < first_scores[i] < 3 * LEVEL for i in ids)
    assert claim_all(q) == [above, *ids, below]


def test_a_stopping_worker_hands_back_a_priority_batch_in_its_order(r: Any) -> None:
    """labqueue.Worker with prefetch 5 stops after the first job: the other four go back (last first) and
    come out again in their order, ahead of a same-priority job added meanwhile."""
    q = make(r)
    ids = q.add_bulk([("slow", {"i": i}, {"priority": 4}) for i in range(5)])
    started = threading.Event()

    def slow(job: ActiveJob) -> str:
        started.set()
        time.sleep(0.3)
        return "done"

    q.process("slow", slow, prefetch=5, poll_seconds=0.05)
    assert started.wait(5)
    later = q.add("slow", {"i": 5}, priority=4)
    q.close()
    assert q.get_job_counts()["completed"] == 1
    assert claim_all(q) == [*ids[1:], later]


def test_one_call_hands_back_a_batch_in_its_order_and_skips_a_stale_delivery(r: Any) -> None:
    """jq_release.lua takes (id, token) pairs (take() hands back in one call the jobs it could not start),
    each first in line: given last first, the batch keeps its order. A stale token is NOT_OURS (0) and
    that job stays active; the others are released."""
    q = make(r)
    ids = [q.add("j", {"i": i}) for i in range(4)]
    a, b, c = claim(q, 3)
    codes = q._run("release", c.id, c.token, b.id, b.token + 1, a.id, a.token)
    assert [Outcome(int(code)) for code in codes] == [Outcome.RELEASED, Outcome.NOT_OURS, Outcome.RELEASED]
    assert r.zrange(q.keys.active, 0, -1) == [b.id]
    assert claim_all(q) == [ids[0], ids[2], ids[3]]
