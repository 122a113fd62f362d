"""Checks of notebook 03: the student's MyPriorityQueue (ZADD / ZPOPMIN, FIFO among equals), the score exercise."""

from __future__ import annotations

import json
import random
from typing import Any, Mapping

from ..i18n import _
from . import NotDone, fail, guard, need, passed, qname, record_of, state


@guard
def my_priority_queue(r: Any, namespace: Mapping[str, Any]) -> str:
    """Forty jobs with random priorities and random ids (as the chapter's uuids), enqueued by two
    producers in turn, drained one by one: priority first, then arrival; nothing lost."""
    (MyPriorityQueue,) = need(namespace, _("Build it yourself: a priority queue"), "MyPriorityQueue")
    name = qname("nb03-mypq")
    rng = random.Random(3)
    with state(r, name):
        producers = [MyPriorityQueue(r, name), MyPriorityQueue(r, name)]  # two producers, e.g. two processes
        sent = []
        for i in range(40):
            job = {"id": f"{rng.getrandbits(64):016x}", "type": "work", "n": i}
            priority = rng.choice([1, 2, 5, 7, 10])
            producers[i % 2].enqueue(job, priority)
            sent.append((priority, i, job))
        if r.type(name) not in ("zset", b"zset"):
            raise fail(_("after enqueue() the key {name!r} is not a sorted set (it is {kind!r}): ZADD each job's JSON "
                         "to the sorted set named `name`.").format(name=name, kind=r.type(name)))
        worker = MyPriorityQueue(r, name)
        out = []
        while len(out) <= 40 and (entry := worker.dequeue()) is not None:
            out.append(record_of(entry))
        if len(out) != 40:
            raise fail(_("40 jobs were enqueued and dequeue() gave {n} before returning None.").format(n=len(out)))
        by_id = {job["id"]: (priority, i) for priority, i, job in sent}
        got = [by_id.get(job.get("id"), (None, None)) for job in out]
        if (None, None) in got:
            raise fail(_("dequeue() returned a job that was never enqueued, or changed its id."))
        for (p1, i1), (p2, i2) in zip(got, got[1:]):
            if p1 > p2:
                raise fail(_("job #{i1} (priority {p1}) came out before job #{i2} (priority {p2}): the lowest priority "
                             "number goes first (ZPOPMIN takes the lowest score).").format(i1=i1, p1=p1, i2=i2, p2=p2))
        for (p1, i1), (p2, i2) in zip(got, got[1:]):
            if p1 == p2 and i1 > i2:
                raise fail(_("jobs #{i2} and #{i1} both have priority {p1} and #{i2} arrived first, but #{i1} came out "
                             "first: equal scores are ordered by member bytes, not by arrival; put an arrival number "
                             "that all producers share (INCR in Redis) in the score.").format(i1=i1, i2=i2, p1=p1))
        if worker.dequeue() is not None:
            raise fail(_("dequeue() on an empty queue should return None."))
    return passed(_("MyPriorityQueue works: 40 jobs with random priorities and random ids, from two producers, "
                    "came out by priority, and in arrival order among equal priorities."))


@guard
def score_exercise(r: Any, namespace: Mapping[str, Any]) -> str:
    """Reads (never changes) the student's queue `ex`: c, a, b order, and the score stored for b."""
    ex, my_score_b = need(namespace, _("Exercise"), "ex", "my_score_b")
    members = r.zrange(ex.keys.priority, 0, -1, withscores=True)
    if not members:
        raise NotDone(_("enqueue a, b and c into `ex` (in that order), run the cell, then this check."))
    names = [json.loads(member)["data"].get("name") for member, _score in members]
    if names != ["c", "a", "b"]:
        raise fail(_("the queue gives {order}, not c, a, b (the exercise cell starts from a fresh queue: change the "
                     "priorities there and run it again).").format(order=", ".join(map(str, names))))
    if my_score_b is None:
        raise NotDone(_("the order is right; now write in `my_score_b` the score Redis stores for b."))
    score_b = dict(zip(names, (score for _member, score in members)))["b"]
    if my_score_b != score_b:
        raise fail(_("b is not stored with score {said}: the score is priority × 2³² + arrival number, the arrival "
                     "number counting from 1 in a fresh queue.").format(said=my_score_b))
    return passed(_("correct: c, a, b, and b is stored with score {score:.0f}.").format(score=score_b))
