"""Checks of notebooks 00, 08a, 10 and 11: where a failing job ends, one job per order, duplicates per
kill, round trips of the raw loop against claim.lua."""

from __future__ import annotations

import time
from typing import Any, Mapping

from ..i18n import _
from . import NotDone, fail, guard, need, passed, qname

PLACES = ("waiting", "delayed", "processing", "dead")


@guard
def where_after_failures(r: Any, namespace: Mapping[str, Any]) -> str:
    """00: an email that fails every attempt (max_attempts=3) on its own queue; then `my_answer`."""
    (answer,) = need(namespace, _("Exercise"), "my_answer")
    if answer is None:
        raise NotDone(_("set `my_answer` to one of {places}, run its cell, then this check.")
                      .format(places=", ".join(f'"{p}"' for p in PLACES)))
    if answer not in PLACES:
        raise fail(_("my_answer should be one of {places}, not {got!r}.")
                   .format(places=", ".join(repr(p) for p in PLACES), got=answer))
    import labqueue as lq

    from .. import experiments

    q = lq.ReliableQueue(r, qname("nb00-exercise"), lease_seconds=0.3, max_attempts=3,
                         backoff=lq.Backoff.fixed(0.05))
    q.clear()
    try:
        q.enqueue({"type": "send_email", "to": "bounce@example.com"}, job_id="always-fails")
        log = experiments.ExecutionLog(work_seconds=0, fail=lambda job: True)
        lq.Worker(q, {"send_email": log.handler}, poll_seconds=0.1, burst=True).run()
        where = {name for name, ids in experiments.ids_in_redis(q).items() if "always-fails" in ids}
        if len(log.executions) != 3 or len(where) != 1:
            raise fail(_("the experiment did not run as planned ({n} attempts, found in {where}).")
                       .format(n=len(log.executions), where=where))
    finally:
        q.clear()
    (place,) = where
    if answer != place:
        raise fail(_("not quite: the job is not in {said!r}. How many attempts does the queue allow, and where does "
                     "a job go once they are spent?").format(said=answer))
    return passed(_("correct: after {n} failed attempts the job is in {place!r}, with its last error, until someone "
                    "inspects or replays it.").format(n=len(log.executions), place=place))


class _LostReply:
    """A JobQueue seen through a bad network: its first add reaches Redis, the reply never comes back."""

    def __init__(self, queue: Any) -> None:
        self._queue, self.written = queue, None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    def add(self, *args: Any, **kwargs: Any) -> Any:
        job_id = self._queue.add(*args, **kwargs)
        if self.written is None:
            self.written = job_id
            raise TimeoutError("the job reached Redis, its reply was lost (a network timeout)")
        return job_id


@guard
def add_once(r: Any, namespace: Mapping[str, Any]) -> str:
    """08a: the student's add_order_confirmation called twice (a backend retry) on a fresh JobQueue, then
    for another order once more after a first call whose reply was lost, then a worker: one job an order,
    each a send-email job carrying {"to", "order"}, one email sent an order."""
    (add_order_confirmation,) = need(namespace, _("Exercise"), "add_order_confirmation")
    from ...jobqueue import JobQueue

    q = JobQueue(r, qname("nb08a-exercise"))
    q.obliterate()
    sent: list[Any] = []
    try:
        first = add_order_confirmation(q, 1001, "buyer@example.com")
        second = add_order_confirmation(q, 1001, "buyer@example.com")  # the backend's retry
        counts = q.get_job_counts()
        jobs = counts["waiting"] + counts["delayed"]
        if first is None or second is None:
            raise NotDone(_("add_order_confirmation returns None: return the id that queue.add gives back."))
        if jobs != 1 or first != second:
            raise fail(_("two calls for order 1001 created {n} jobs (ids {first!r} and {second!r}): the backend's "
                         "retry would send the email twice; give both calls the same job id, derived from the order, "
                         "so the second add finds the first.").format(n=jobs, first=first, second=second))
        if add_order_confirmation(q, 1002, "other@example.com") == first:
            raise fail(_("order 1002 got the same job id as order 1001: derive the id from the order number."))
        lossy = _LostReply(q)  # the network timeout of the story: the add was done, the backend never heard
        try:
            add_order_confirmation(lossy, 1003, "third@example.com")
        except TimeoutError:
            pass
        retried = add_order_confirmation(q, 1003, "third@example.com")  # the backend's retry
        counts = q.get_job_counts()
        jobs = counts["waiting"] + counts["delayed"] - 2
        if jobs != 1:
            raise fail(_("the backend's retry after a lost reply created {n} jobs for order 1003 (ids {first!r} and "
                         "{second!r}): a note kept in this process never saw the first add succeed; give the job an "
                         "id derived from the order, so Redis finds the first add.")
                       .format(n=jobs, first=lossy.written, second=retried))
        expected = {1001: "buyer@example.com", 1002: "other@example.com", 1003: "third@example.com"}
        for job in q.get_jobs("waiting") + q.get_jobs("delayed"):
            if job.name != "send-email":
                raise fail(_("the job is called {name!r}: the email worker processes the jobs called 'send-email'; "
                             "add it under that name.").format(name=job.name))
            if job.data.get("order") not in expected or job.data.get("to") != expected[job.data["order"]]:
                raise fail(_('the job\'s data has no "order" field with the order number and its "to" address '
                             '(got {data!r}): the email worker reads them there; add {{"to": to, "order": order}}.')
                           .format(data=job.data))
        q.process("send-email", lambda job: sent.append(job.data.get("order")), concurrency=1, poll_seconds=0.05)
        deadline = time.time() + 10
        while time.time() < deadline and (c := q.get_job_counts())["completed"] + c["failed"] < len(expected):
            time.sleep(0.02)
        q.close()
        if sorted(sent) != sorted(expected):
            raise fail(_("the worker sent {n} confirmation(s) for {sent!r}; one for each of the orders {orders} was "
                         "expected.").format(n=len(sent), sent=sorted(sent), orders=sorted(expected)))
    finally:
        q.close()
        q.obliterate()
    return passed(_("one job an order ({job!r} for two calls), even after a lost reply, and one email each: an "
                    "existing job id makes add a no-op.").format(job=first))


@guard
def duplicates_per_kill(r: Any, namespace: Mapping[str, Any]) -> str:
    """10: `max_duplicates_per_kill` against the chaos run's threads per process, and its measured bound."""
    (answer,) = need(namespace, _("Exercise"), "max_duplicates_per_kill")
    run, result = need(namespace, _("The reliable queue under fire"), "run", "result")
    if answer is None:
        raise NotDone(_("set `max_duplicates_per_kill`, run its cell, then this check."))
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise fail(_("max_duplicates_per_kill should be an integer, not {got!r}.").format(got=answer))
    bound = run.concurrency  # one finished-but-unacked job per thread of the killed process
    if result.duplicated > result.kills * bound:
        raise fail(_("the run saw {duplicated} duplicates for {kills} kills: more than the bound, which is a bug in "
                     "the queue, not in your answer.").format(duplicated=result.duplicated, kills=result.kills))
    if answer != bound:
        raise fail(_("not quite: you said {said}. How many jobs can one process hold done but not yet acked, given "
                     "its threads and that each acks a finished job with its next claim?").format(said=answer))
    return passed(_("correct: at most {bound} per kill (one finished, unacked job per thread); this run: {kills} "
                    "kills, {duplicated} duplicates.")
                  .format(bound=bound, kills=result.kills, duplicated=result.duplicated))


@guard
def round_trips(r: Any, namespace: Mapping[str, Any]) -> str:
    """11: measures the raw loop (LMOVE + LREM) and claim(25, ack=...) on 50 jobs itself, then compares."""
    raw_trips, claim_trips = need(namespace, _("Exercise"), "raw_trips", "claim_trips")
    if raw_trips is None or claim_trips is None:
        raise NotDone(_("write the two loops, set `raw_trips` and `claim_trips` from the counters, run the cell, "
                        "then this check."))
    import labqueue as lq

    from ...bench.roundtrips import count_round_trips

    key, proc = qname("perf-check") + ":raw", qname("perf-check") + ":raw-processing"
    q = lq.ReliableQueue(r, qname("perf-check"))
    try:
        r.delete(key, proc)
        r.lpush(key, *[f"job-{i}" for i in range(50)])
        with count_round_trips(r) as raw:
            while (item := r.lmove(key, proc, "RIGHT", "LEFT")) is not None:
                r.lrem(proc, 1, item)
        q.clear()
        q.claim(1)  # loads claim.lua: count the steady state, as the exercise does
        q.enqueue_many([{"i": i} for i in range(50)])
        with count_round_trips(r) as mine:
            done: list[Any] = []
            while True:
                jobs, _rest = q.claim(25, ack=done)
                if not jobs:
                    break
                done = jobs  # acked by their delivery tokens
    finally:
        q.clear()
        r.delete(key, proc)
    if raw_trips != raw.count:
        raise fail(_("raw_trips = {said} is not what the raw loop sends for 50 jobs: count the commands of one "
                     "turn, and the one that ends the loop.").format(said=raw_trips))
    if claim_trips != mine.count:
        raise fail(_("claim_trips = {said} is not it: each claim acks the previous batch and takes the next 25, and "
                     "one more claim finds the queue empty.").format(said=claim_trips))
    student_queue = namespace.get("bq")
    if isinstance(student_queue, lq.ReliableQueue):
        counts = student_queue.counts()
        left = counts["waiting"] + counts["processing"] + counts["delayed"]
        if left:
            raise fail(_("your claim loop left {n} jobs in the queue (processing: {processing}): a job claimed is "
                         "done only once a later claim acks it, so pass the previous batch as ack= (the count "
                         "alone was right).").format(n=left, processing=counts["processing"]))
    return passed(_("correct: {raw} round trips for the raw loop against {mine} for claim.lua with prefetch 25, "
                    "about {ratio:.0f} times fewer.").format(raw=raw.count, mine=mine.count, ratio=raw.count / mine.count))
