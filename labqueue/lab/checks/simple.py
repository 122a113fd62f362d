"""Checks of notebook 01: the student's MyQueue (LPUSH / BRPOP), and the crash-after prediction."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Mapping

from ..i18n import Number, _
from . import (NotDone, TimedOut, fail, fresh, guard, job_ids, jobs, need, passed, qname, record_of, said, state,
               within)


@guard
def my_queue(r: Any, namespace: Mapping[str, Any]) -> str:
    """MyQueue: jobs stored as JSON and returned as dicts, FIFO, size read from Redis, dequeue blocks up to
    its timeout (never for ever: the check waits 5 s at most) and wakes on a new job, then 60 jobs through
    three labqueue Workers and one crashed worker (the lab's crash injection)."""
    (MyQueue,) = need(namespace, _("Build it yourself: MyQueue"), "MyQueue")
    from .harness import StudentQueue, run_workers

    name = qname("nb01-myqueue")
    with state(r, name):
        q = MyQueue(r, name)
        sent = jobs(3)
        for job in sent:
            q.enqueue(job)
        if r.type(name) not in ("list", b"list"):
            raise fail(_("after three enqueue() calls the key {name!r} is not a Redis list (it is {kind!r}): "
                         "LPUSH each job, as JSON, onto the list named `name`.").format(name=name, kind=r.type(name)))
        if (stored := _not_json(r.lrange(name, 0, -1))) is not None:
            raise fail(_("the list holds {entry!r:.60}, which is not JSON: LPUSH json.dumps(job), the text any "
                         "worker, in any language, can read back.").format(entry=stored))
        if (size := q.size()) != 3:
            raise fail(_("after three enqueue() calls size() says {size!r}, but the list holds {n} jobs.")
                       .format(size=size, n=r.llen(name)))
        got = [q.dequeue(timeout=1) for _i in range(3)]
        if None in got:
            raise fail(_("dequeue(timeout=1) returned None while jobs were waiting (it returned {got}).")
                       .format(got=said(got)))
        if (text := next((g for g in got if isinstance(g, (str, bytes))), None)) is not None:
            raise fail(_("dequeue returned the job's JSON text ({entry!r:.40}), not the job: decode it (json.loads) "
                         "and return the dict.").format(entry=text))
        order = job_ids(got)
        if order != job_ids(sent):
            raise fail(_("jobs enqueued in the order {sent} came out as {order}: a queue gives the oldest first "
                         "(LPUSH at the head, BRPOP at the tail).").format(sent=said(job_ids(sent)), order=said(order)))
        if record_of(got[0]) != sent[0]:
            raise fail(_("job-00 came back as {got!r}, not as it was enqueued ({sent!r}).")
                       .format(got=record_of(got[0]), sent=sent[0]))

        other = MyQueue(r, name)  # a second client of the same queue, e.g. another process
        for job in jobs(2, prefix="more"):
            q.enqueue(job)
        if (size := other.size()) != 2:
            raise fail(_("another MyQueue on the same name says size() = {size!r} while the list holds {n} jobs: "
                         "read the size from Redis (LLEN), not from a Python counter.").format(size=size, n=r.llen(name)))
        fresh(r, name)
        if (size := q.size()) != 0:
            raise fail(_("with the list deleted, size() still says {size!r}: read it from Redis (LLEN).").format(size=size))

        start = time.monotonic()
        try:
            nothing = within(5, lambda: q.dequeue(timeout=0.3),
                             lambda: r.lpush(name, json.dumps({"id": "wake-up", "type": "work"})))
        except TimedOut:
            raise fail(_("dequeue(timeout=0.3) on an empty queue had not returned after {deadline} s: pass its "
                         "timeout to BRPOP (a timeout of 0 waits for ever).").format(deadline=5)) from None
        waited = time.monotonic() - start
        if nothing is not None:
            raise fail(_("dequeue(timeout=0.3) on an empty queue returned {got!r}; it should return None.")
                       .format(got=nothing))
        if waited < 0.2:
            raise fail(_("dequeue(timeout=0.3) on an empty queue returned after {waited:.2f} s: it should block up to "
                         "its timeout in Redis (BRPOP with timeout), not return at once (RPOP).").format(waited=Number(waited)))
        if waited > 2.0:
            raise fail(_("dequeue(timeout=0.3) on an empty queue waited {waited:.1f} s: pass the timeout to BRPOP.")
                       .format(waited=Number(waited)))

        got_late: list[Any] = []
        waiter = threading.Thread(target=lambda: got_late.append((q.dequeue(timeout=3), time.monotonic())),
                                  daemon=True)
        waiter.start()
        time.sleep(0.2)
        pushed = time.monotonic()
        q.enqueue({"id": "late", "type": "work", "n": 99})
        waiter.join(5)
        if not got_late or got_late[0][0] is None:
            raise fail(_("a job enqueued while dequeue(timeout=3) was waiting was not delivered to it."))
        if (delay := got_late[0][1] - pushed) > 1.0:
            raise fail(_("a job enqueued while dequeue(timeout=3) was waiting reached it {delay:.1f} s later: block "
                         "in Redis (BRPOP), which returns as soon as a job arrives, instead of sleeping.")
                       .format(delay=Number(delay)))

        view = StudentQueue(q, r, name)
        batch = jobs(60)
        for job in batch:
            q.enqueue(job)
        tally = run_workers(view, job_ids(batch), workers=3)
        if tally.lost or tally.processed != 60 or tally.processed_twice:
            raise fail(_("through three labqueue Workers, {ran} of 60 jobs ran, {lost} were lost ({lost_ids}) and "
                         "{twice} ran twice ({twice_ids}).").format(
                ran=tally.processed, lost=tally.lost, lost_ids=said(tally.lost_ids), twice=tally.processed_twice,
                twice_ids=said(tally.twice_ids)))

        crash = jobs(10, prefix="crash")
        for job in crash:
            q.enqueue(job)
        tally = run_workers(view, job_ids(crash), workers=1, crash_first=1)
        lost = (_("it lost {ids}: the job left Redis at BRPOP and the worker died before finishing it "
                  "(notebook 02a fixes that)").format(ids=said(tally.lost_ids)) if tally.lost else
                _("it lost nothing"))
    return passed(_("MyQueue works: FIFO, size() read from Redis (LLEN), dequeue blocks up to its timeout and "
                    "wakes as soon as a job arrives, 60 jobs through 3 labqueue Workers with none lost or run "
                    "twice. Then a worker was killed mid-job, as in part 3: {lost}.").format(lost=lost))


def _not_json(entries: list[Any]) -> Any:
    """The first entry of the list that is not a job's JSON (a dict), or None when they all are."""
    for entry in entries:
        try:
            if isinstance(json.loads(entry), dict):
                continue
        except ValueError:
            pass
        return entry
    return None


@guard
def crash_after_prediction(r: Any, namespace: Mapping[str, Any]) -> str:
    """Run 20 jobs on a SimpleQueue with three workers each killed after the work of their first job,
    check the Redis state, then compare with `my_prediction` (the measured count is not shown before)."""
    (prediction,) = need(namespace, _("Exercise"), "my_prediction")
    if prediction is None:
        raise NotDone(_("put your prediction in `my_prediction` (an integer), run its cell, then this check."))
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        raise fail(_("my_prediction should be an integer number of jobs, not {got!r}.").format(got=prediction))
    import labqueue as lq

    from ..crashing import CrashingWorker

    from .. import experiments

    name = qname("nb01-exercise")
    q = lq.SimpleQueue(r, name)
    q.clear()
    try:
        log = experiments.ExecutionLog(work_seconds=0.005)
        ids = [q.enqueue({"type": "send_email", "n": i}, job_id=f"ex-{i:02d}") for i in range(20)]
        for n in range(3):  # three workers, each killed after the work of its first job
            w = CrashingWorker(q, {"send_email": log.handler}, name=f"x{n}", crash_point="after",
                               poll_seconds=0.1, burst=True, on_event=log.on_event)
            w.crash()
            w.run()
        lq.Worker(q, {"send_email": log.handler}, name="finisher", poll_seconds=0.1, burst=True).run()
        measured = experiments.tally(q, ids, log)
        if q.size() != 0 or measured.crashed != 3 or measured.processed + measured.lost != 20:
            raise fail(_("the experiment did not run as planned: {tally} (re-run the notebook from the top).")
                       .format(tally=measured.as_dict()))
    finally:
        q.clear()
    if prediction != measured.lost:
        raise fail(_("not quite: you said {said}. Ask when each crashed job left Redis, and whether its email had "
                     "gone out before the worker died; then change my_prediction and re-run.").format(said=prediction))
    return passed(_("correct: {lost} of 20 lost. Each worker died after sending its email, so the work was done; "
                    "{sent} emails went out. The simple queue loses a job only when the worker dies before the work.")
                  .format(lost=measured.lost, sent=measured.processed))
