"""Checks of notebook 01: the student's MyQueue (LPUSH / BRPOP), and the crash-after prediction."""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping

from . import NotDone, fail, fresh, guard, job_ids, jobs, need, passed, qname, record_of, said, state

MY_QUEUE_CELL = "Build it yourself: MyQueue"
PREDICTION_CELL = "Exercise"


@guard
def my_queue(r: Any, namespace: Mapping[str, Any]) -> str:
    """MyQueue: FIFO, size read from Redis, dequeue blocks up to its timeout and wakes on a new job,
    then 60 jobs through three labqueue Workers and one crashed worker (the lab's crash injection)."""
    (MyQueue,) = need(namespace, MY_QUEUE_CELL, "MyQueue")
    from .harness import StudentQueue, run_workers

    name = qname("nb01-myqueue")
    with state(r, name):
        q = MyQueue(r, name)
        sent = jobs(3)
        for job in sent:
            q.enqueue(job)
        if r.type(name) not in ("list", b"list"):
            raise fail(f"after three enqueue() calls the key {name!r} is not a Redis list "
                       f"(it is {r.type(name)!r}): LPUSH each job, as JSON, onto the list named `name`.")
        if (size := q.size()) != 3:
            raise fail(f"after three enqueue() calls size() says {size!r}, but the list holds {r.llen(name)} jobs.")
        got = [q.dequeue(timeout=1) for _ in range(3)]
        if None in got:
            raise fail(f"dequeue(timeout=1) returned None while jobs were waiting (it returned {said(got)}).")
        order = job_ids(got)
        if order != job_ids(sent):
            raise fail(f"jobs enqueued in the order {said(job_ids(sent))} came out as {said(order)}: a queue "
                       "gives the oldest first (LPUSH at the head, BRPOP at the tail).")
        if record_of(got[0]) != sent[0]:
            raise fail(f"job-00 came back as {record_of(got[0])!r}, not as it was enqueued ({sent[0]!r}).")

        other = MyQueue(r, name)  # a second client of the same queue, e.g. another process
        for job in jobs(2, prefix="more"):
            q.enqueue(job)
        if (size := other.size()) != 2:
            raise fail(f"another MyQueue on the same name says size() = {size!r} while the list holds "
                       f"{r.llen(name)} jobs: read the size from Redis (LLEN), not from a Python counter.")
        fresh(r, name)
        if (size := q.size()) != 0:
            raise fail(f"with the list deleted, size() still says {size!r}: read it from Redis (LLEN).")

        start = time.monotonic()
        nothing = q.dequeue(timeout=0.3)
        waited = time.monotonic() - start
        if nothing is not None:
            raise fail(f"dequeue(timeout=0.3) on an empty queue returned {nothing!r}; it should return None.")
        if waited < 0.2:
            raise fail(f"dequeue(timeout=0.3) on an empty queue returned after {waited:.2f} s: it should block "
                       "up to its timeout in Redis (BRPOP with timeout), not return at once (RPOP).")
        if waited > 2.0:
            raise fail(f"dequeue(timeout=0.3) on an empty queue waited {waited:.1f} s: pass the timeout to BRPOP.")

        got_late: list[Any] = []
        waiter = threading.Thread(target=lambda: got_late.append((q.dequeue(timeout=3), time.monotonic())),
                                  daemon=True)
        waiter.start()
        time.sleep(0.2)
        pushed = time.monotonic()
        q.enqueue({"id": "late", "type": "work", "n": 99})
        waiter.join(5)
        if not got_late or got_late[0][0] is None:
            raise fail("a job enqueued while dequeue(timeout=3) was waiting was not delivered to it.")
        if (delay := got_late[0][1] - pushed) > 1.0:
            raise fail(f"a job enqueued while dequeue(timeout=3) was waiting reached it {delay:.1f} s later: "
                       "block in Redis (BRPOP), which returns as soon as a job arrives, instead of sleeping.")

        view = StudentQueue(q, r, name)
        batch = jobs(60)
        for job in batch:
            q.enqueue(job)
        tally = run_workers(view, job_ids(batch), workers=3)
        if tally.lost or tally.processed != 60 or tally.processed_twice:
            raise fail(f"through three labqueue Workers, {tally.processed} of 60 jobs ran, {tally.lost} were lost "
                       f"({said(tally.lost_ids)}) and {tally.processed_twice} ran twice ({said(tally.twice_ids)}).")

        crash = jobs(10, prefix="crash")
        for job in crash:
            q.enqueue(job)
        tally = run_workers(view, job_ids(crash), workers=1, crash_first=1)
        lost = (f"it lost {said(tally.lost_ids)}: the job left Redis at BRPOP and the worker died before "
                "finishing it (notebook 02a fixes that)" if tally.lost else "it lost nothing")
    return passed("MyQueue works: FIFO, size() read from Redis (LLEN), dequeue blocks up to its timeout and "
                  "wakes as soon as a job arrives, 60 jobs through 3 labqueue Workers with none lost or run "
                  f"twice. Then a worker was killed mid-job, as in part 3: {lost}.")


@guard
def crash_after_prediction(r: Any, namespace: Mapping[str, Any]) -> str:
    """Run 20 jobs on a SimpleQueue with three workers each killed after the work of their first job,
    check the Redis state, then compare with `my_prediction` (the measured count is not shown before)."""
    (prediction,) = need(namespace, PREDICTION_CELL, "my_prediction")
    if prediction is None:
        raise NotDone("put your prediction in `my_prediction` (an integer), run its cell, then this check.")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        raise fail(f"my_prediction should be an integer number of jobs, not {prediction!r}.")
    import labqueue as lq

    from .. import experiments

    name = qname("nb01-exercise")
    q = lq.SimpleQueue(r, name)
    q.clear()
    try:
        log = experiments.ExecutionLog(work_seconds=0.005)
        ids = [q.enqueue({"type": "send_email", "n": i}, job_id=f"ex-{i:02d}") for i in range(20)]
        for n in range(3):  # three workers, each killed after the work of its first job
            w = lq.Worker(q, {"send_email": log.handler}, name=f"x{n}", crash_point="after",
                          poll_seconds=0.1, burst=True, on_event=log.on_event)
            w.crash()
            w.run()
        lq.Worker(q, {"send_email": log.handler}, name="finisher", poll_seconds=0.1, burst=True).run()
        measured = experiments.tally(q, ids, log)
        if q.size() != 0 or measured.crashed != 3 or measured.processed + measured.lost != 20:
            raise fail(f"the experiment did not run as planned: {measured.as_dict()} (re-run the notebook from the top).")
    finally:
        q.clear()
    if prediction != measured.lost:
        raise fail(f"not quite: you said {prediction}. Ask when each crashed job left Redis, and whether its "
                   "email had gone out before the worker died; then change my_prediction and re-run.")
    return passed(f"correct: {measured.lost} of 20 lost. Each worker died after sending its email, so the work "
                  f"was done; {measured.processed} emails went out. The simple queue loses a job only when the "
                  "worker dies before the work.")
