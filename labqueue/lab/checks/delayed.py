"""Checks of notebook 04: the student's atomic promotion (a Lua script), and the due-jobs prediction."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Mapping

from ..i18n import Number, _
from . import NotDone, fail, guard, job_ids, need, passed, qname, said, state

DELAYS = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]
BATCH = 2500  # due at once: more than a LIMIT a student may copy (labqueue's promote takes 1,000)


def _client_like(r: Any) -> Any:
    """A second client on the same backend (same fakeredis server, or same connection pool)."""
    return type(r)(connection_pool=r.connection_pool)


@guard
def my_scheduler(r: Any, namespace: Mapping[str, Any]) -> str:
    """Time travel (what is due when), order of the ready list, moved once; a job due at exactly `now`
    moved (score ≤ now) and removed; 2,500 due jobs in one pass, none lost; two promoters racing on
    the same due jobs; and the commands one promote_due sends (one script, EVALSHA)."""
    (MyScheduler,) = need(namespace, _("Build it yourself: an atomic promotion in Lua"), "MyScheduler")
    from ..trace import Tracer

    name = qname("nb04-mysched")
    with state(r, name):
        s = MyScheduler(r, name)
        base = time.time()
        for i, d in enumerate(DELAYS):
            s.schedule({"id": f"job-{i:02d}", "type": "work", "delay": d}, base + d)
        moved = s.promote_due(base + 2.75)
        if not isinstance(moved, int) or isinstance(moved, bool):
            raise fail(_("promote_due() returned {moved!r}; it should return how many jobs it moved (an integer, "
                         "the script's return value).").format(moved=moved))
        ready = r.lrange(s.ready, 0, -1)
        if moved != 5 or len(ready) != 5 or r.zcard(s.delayed) != 5:
            raise fail(_("at base + 2.75 s the jobs due at +0.5 … +2.5 s (5 of them) should move to the ready list; "
                         "promote_due returned {moved}, the ready list holds {ready} and the delayed set {delayed}.")
                       .format(moved=moved, ready=len(ready), delayed=r.zcard(s.delayed)))
        taken = job_ids(list(reversed(ready)))  # workers RPOP from the tail
        if taken != [f"job-{i:02d}" for i in range(5)]:
            raise fail(_("workers (RPOP at the tail) would take {taken}: the job due first should be taken first, so "
                         "LPUSH the due jobs in due order (ZRANGEBYSCORE gives them oldest first).")
                       .format(taken=said(taken)))
        again = s.promote_due(base + 2.75)
        if again != 0 or r.llen(s.ready) != 5:
            raise fail(_("a second promote_due at the same time moved {moved!r} jobs: each due job moves once; with "
                         "nothing due the script must return 0.").format(moved=again))

        r.delete(s.ready, s.delayed)
        edge = float(int(base) + 60)  # a whole second: exact whether the script passes ARGV[1] on or reads a number
        s.schedule({"id": "edge", "type": "work"}, edge)
        moved = s.promote_due(edge)
        if r.llen(s.ready) == 0:
            raise fail(_("promote_due({at}) left the job due at exactly {at} in the delayed set: a job is due when "
                         "its score is ≤ now, and ZRANGEBYSCORE's bounds include the value given ('(' would exclude "
                         "it).").format(at=int(edge)))
        if r.zcard(s.delayed):
            raise fail(_("promote_due({at}) pushed the job due at exactly {at} but left it in the delayed set, so "
                         "the next pass pushes it again: remove the jobs you pushed, with the same bound.")
                       .format(at=int(edge)))
        r.delete(s.ready, s.delayed)
        batch = [{"id": f"batch-{i:04d}", "type": "work"} for i in range(BATCH)]
        r.zadd(s.delayed, {json.dumps(job): base - 1 for job in batch})  # one ZADD, not 2,500 round trips
        s.promote_due(base)
        kept = set(job_ids(r.lrange(s.ready, 0, -1))) | set(job_ids(r.zrange(s.delayed, 0, -1)))
        if lost := sorted({job["id"] for job in batch} - kept):
            raise fail(_("one promote_due over {n:,} due jobs lost {lost:,} of them ({job} among them): they left the "
                         "delayed set without reaching the ready list; remove exactly the jobs you pushed (a LIMIT "
                         "on the read must limit the removal too).")
                       .format(n=Number(BATCH), lost=Number(len(lost)), job=lost[0]))
        r.delete(s.ready, s.delayed)
        due = base - 1
        ids = [f"race-{i:03d}" for i in range(200)]
        promoters = [MyScheduler(_client_like(r), name), MyScheduler(_client_like(r), name)]
        for rnd in range(3):  # three rounds of 200 due jobs, two promoters released together
            for job_id in ids:
                s.schedule({"id": f"{job_id}-{rnd}", "type": "work"}, due)
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def promote(p: Any) -> None:
                try:
                    barrier.wait(5)
                    while r.zcard(s.delayed):
                        p.promote_due(due + 1)
                except BaseException as exc:  # reported below, in the check's own thread
                    errors.append(exc)

            threads = [threading.Thread(target=promote, args=(p,), daemon=True) for p in promoters]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            if errors:
                raise errors[0]
            got = job_ids(r.lrange(s.ready, 0, -1))
            twice = sorted({j for j in got if got.count(j) > 1})
            if twice:
                raise fail(_("with two promoters racing, job {job} reached the ready list {times} times: both read it "
                             "as due before either removed it; do the read, the push and the removal in one Lua "
                             "script, which Redis runs atomically.").format(job=twice[0], times=got.count(twice[0])))
            expected = {f"{j}-{rnd}" for j in ids}
            if missing := sorted(expected - set(got)):
                raise fail(_("with two promoters racing, job {job} left the delayed set but never reached the ready "
                             "list.").format(job=missing[0]))
            r.delete(s.ready)

        tracer = Tracer(r, preload_scripts=False)
        traced = MyScheduler(tracer.client, name)
        traced.schedule({"id": "traced", "type": "work"}, due)
        traced.promote_due(due + 1)  # registers / loads the script once
        traced.schedule({"id": "traced-2", "type": "work"}, due)
        with tracer.record("promote_due") as sent:
            traced.promote_due(due + 1)
        tracer.close()
        names = [c.name for c in sent if not c.error and c.name != "SCRIPT LOAD"]
        if len(names) != 1 or not names[0].startswith(("EVALSHA", "EVAL")):
            raise fail(_("one promote_due sent {sent}: separate commands, so another scheduler, or a crash, can "
                         "come between them (a crash between ZREM and LPUSH loses the job); send one Lua script "
                         "registered with register_script (EVALSHA).").format(sent=" + ".join(names) or _("nothing")))
        if not names[0].startswith("EVALSHA"):
            raise fail(_("promote_due sends the script's source every time (EVAL): register it once with "
                         "r.register_script(...) and call that, which sends EVALSHA."))
    return passed(_("your script promotes what is due and nothing else, oldest due first, each job once, a job "
                    "due at exactly now included; two promoters racing over 600 due jobs moved each exactly once; one promote_due is one EVALSHA."))


@guard
def due_prediction(r: Any, namespace: Mapping[str, Any]) -> str:
    """Schedules the same ten jobs on its own queue, then compares `my_due` and `my_next` with Redis."""
    my_due, my_next = need(namespace, _("Exercise"), "my_due", "my_next")
    if my_due is None or my_next is None:
        raise NotDone(_("put your answers in `my_due` and `my_next`, run their cell, then this check."))
    import labqueue as lq

    q = lq.DelayedQueue(r, qname("nb04-exercise-check"))
    q.clear()
    try:
        base = time.time()
        for d in DELAYS:
            q.enqueue({"type": "remind", "delay": d}, delay_seconds=d)
        moved = q.process_delayed_jobs(now=base + 2.75)
        next_in = q.next_due() - base
        if q.size() != moved or q.delayed_size() != 10 - moved:
            raise fail(_("the experiment did not run as planned ({ready} ready, {delayed} delayed).")
                       .format(ready=q.size(), delayed=q.delayed_size()))
    finally:
        q.clear()
    if my_due != moved:
        raise fail(_("{said} is not how many are due at base + 2.75 s: list the delays that are ≤ 2.75.")
                   .format(said=my_due))
    if abs(next_in - my_next) >= 0.1:
        raise fail(_("{due} due is right, but the next job is not due {said} s after base: which is the smallest "
                     "delay still waiting?").format(due=my_due, said=my_next))
    return passed(_("correct: {moved} due at base + 2.75 s, the next at base + {next:.1f} s.")
                  .format(moved=moved, next=Number(next_in)))
