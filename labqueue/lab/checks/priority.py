"""Checks of notebook 03: the student's MyPriorityQueue (ZADD / ZPOPMIN, FIFO among equals), the score exercise."""

from __future__ import annotations

import json
import random
from typing import Any, Mapping

from ..i18n import _
from . import NotDone, TimedOut, fail, guard, need, passed, qname, record_of, state, within


@guard
def my_priority_queue(r: Any, namespace: Mapping[str, Any]) -> str:
    """Forty jobs with random priorities and random ids (as the chapter's uuids), enqueued by two
    producers in turn, drained one by one: priority first, then arrival, no two scores equal (exact below
    2**53), dicts returned, nothing lost; then two workers whose commands interleave (_two_workers)."""
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
        scores = [score for _member, score in r.zrange(name, 0, -1, withscores=True)]  # ties: checked below
        worker = MyPriorityQueue(r, name)
        out = []
        while len(out) <= 40 and (entry := _dequeue(r, name, worker)) is not None:
            if isinstance(entry, (str, bytes)):
                raise fail(_("dequeue returned the job's JSON text ({entry!r:.40}), not the job: decode it "
                             "(json.loads) and return the dict.").format(entry=entry))
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
        inexact = sorted({s for s in scores if s >= 2**53 and scores.count(s) > 1})
        if inexact:  # before the order among equals: that order is lost to rounding, not to a missing counter
            raise fail(_("{n} jobs share the score {score:.0f}: a double is exact only up to 2⁵³, so past it "
                         "neighbouring scores round to one value and equal scores come out in member order, not "
                         "arrival order; keep every score below 2⁵³ (priority × 2³² + arrival number).")
                       .format(n=scores.count(inexact[0]), score=inexact[0]))
        for (p1, i1), (p2, i2) in zip(got, got[1:]):
            if p1 == p2 and i1 > i2:
                raise fail(_("jobs #{i2} and #{i1} both have priority {p1} and #{i2} arrived first, but #{i1} came out "
                             "first: equal scores are ordered by member bytes, not by arrival; put an arrival number "
                             "that all producers share (INCR in Redis) in the score.").format(i1=i1, i2=i2, p1=p1))
        if _dequeue(r, name, worker) is not None:
            raise fail(_("dequeue() on an empty queue should return None."))
        if (tied := next((s for s in scores if scores.count(s) > 1), None)) is not None:  # in order by luck
            raise fail(_("{n} jobs share the score {score:.0f}: equal scores come out in member order, not arrival "
                         "order (here by luck in the right one); put an arrival number that all producers share "
                         "(INCR in Redis) in the score.").format(n=scores.count(tied), score=tied))
        _two_workers(r, name, MyPriorityQueue)
    return passed(_("MyPriorityQueue works: 40 jobs with random priorities and random ids, from two producers, "
                    "came out by priority, and in arrival order among equal priorities; two workers whose "
                    "commands interleave never got the same job."))


def _dequeue(r: Any, name: str, worker: Any) -> Any:
    """worker.dequeue(), failing the check (never hanging it) when it blocks on an empty queue."""
    try:
        return within(5, worker.dequeue, lambda: r.zadd(name, {json.dumps({"id": "wake-up", "type": "work"}): 0}))
    except TimedOut:
        raise fail(_("dequeue() on an empty queue had not returned after {deadline} s: it should return None at once "
                     "(ZPOPMIN; BZPOPMIN with timeout 0 waits for ever).").format(deadline=5)) from None


def _two_workers(r: Any, name: str, MyPriorityQueue: Any) -> None:
    """Ten jobs, two workers: after every command worker A sends, worker B takes a job (a whole dequeue).
    An atomic dequeue (ZPOPMIN, one script, MULTI/EXEC, a ZREM whose reply is checked) gives each job to
    one of them; a read then a removal (ZRANGE, then ZREM) lets B take the job A has read: both get it."""
    from ..trace import _sibling

    for i in range(10):
        MyPriorityQueue(r, name).enqueue({"id": f"pair-{i:02d}", "type": "work", "n": i}, 5)
    b = MyPriorityQueue(_sibling(r), name)
    got: list[dict[str, Any]] = []
    client = _sibling(r)
    inner = client.execute_command
    busy = False

    def execute_command(*args: Any, **options: Any) -> Any:
        nonlocal busy
        reply = inner(*args, **options)
        if not busy:  # B's dequeue runs between two of A's commands, never inside another
            busy = True
            try:
                if (entry := b.dequeue()) is not None:
                    got.append(record_of(entry))
            finally:
                busy = False
        return reply

    client.execute_command = execute_command
    a = MyPriorityQueue(client, name)
    for _round in range(20):
        entry = a.dequeue()
        if entry is not None:
            got.append(record_of(entry))
        if r.zcard(name) == 0:
            break
    ids = [str(job.get("id")) for job in got]
    if twice := sorted({i for i in ids if ids.count(i) > 1}):
        raise fail(_("two workers both got job {job}: between your read and your removal another worker took the "
                     "same job; take it in one atomic step (ZPOPMIN removes and returns it in one command).")
                   .format(job=twice[0]))
    if missing := sorted({f"pair-{i:02d}" for i in range(10)} - set(ids)):
        raise fail(_("with two workers taking jobs, job {job} left the sorted set but neither worker got it.")
                   .format(job=missing[0]))


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
    arrival = {name: int(score) % 2**32 for name, (_member, score) in zip(names, members)}
    if arrival["c"] < arrival["a"] or arrival["b"] < arrival["a"]:
        first = "c" if arrival["c"] < arrival["a"] else "b"
        raise fail(_("{first} was enqueued before a: enqueue a, b, c in that order, and let the priorities put c "
                     "first.").format(first=first))
    if my_score_b is None:
        raise NotDone(_("the order is right; now write in `my_score_b` the score Redis stores for b."))
    score_b = dict(zip(names, (score for _member, score in members)))["b"]
    if my_score_b != score_b:
        raise fail(_("b is not stored with score {said}: the score is priority × 2³² + arrival number, the arrival "
                     "number counting from 1 in a fresh queue.").format(said=my_score_b))
    return passed(_("correct: c, a, b, and b is stored with score {score:.0f}.").format(score=score_b))
