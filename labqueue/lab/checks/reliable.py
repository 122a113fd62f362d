"""Checks of notebooks 02a and 02b: the student's reliable dequeue + ack, the lease recovery, the prediction."""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping

from ..i18n import _, ngettext
from . import NotDone, fail, guard, job_ids, jobs, need, passed, qname, said, state


def _ids(r: Any, key: str) -> list[str]:
    return job_ids(r.lrange(key, 0, -1))


# the commands that change a list: what a dequeue may send to take a job from waiting into processing
_LIST_CHANGES = frozenset({"LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "BLPOP", "BRPOP", "LMPOP", "BLMPOP",
                           "LMOVE", "BLMOVE", "RPOPLPUSH", "BRPOPLPUSH", "LREM", "LSET", "LINSERT", "LTRIM"})
_TAKES = frozenset({"LPOP", "RPOP", "BLPOP", "BRPOP", "LMPOP", "BLMPOP", "LREM", "LTRIM"})  # out of a list, nowhere


def _arg(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def split_move(sent: list[Any], waiting: str, processing: str) -> str | None:
    """The verdict on the commands one dequeue sent (a Tracer's record), or None when the job went from
    `waiting` to `processing` in one atomic step: one command that moves (LMOVE, BLMOVE, RPOPLPUSH,
    BRPOPLPUSH), one script (EVAL, EVALSHA, FCALL), or one MULTI/EXEC. Two steps that change either
    list are a window in which a crash (or another client) finds the job in neither list, or in both."""
    steps: list[list[Any]] = []  # a command alone, or the commands of one MULTI ... EXEC
    batched = False  # some step was a command of a pipeline without MULTI
    block: list[Any] | None = None
    for c in sent:
        if c.error or c.name == "SCRIPT LOAD":
            continue
        if c.name == "MULTI":
            block = []
        elif c.name == "EXEC" and block is not None:
            steps.append(block)
            block = None
        elif block is not None:
            block.append(c)
        else:
            steps.append([c])
            batched = batched or c.pipeline
    lists = {waiting, processing}

    def changes(c: Any) -> bool:
        if c.name.startswith(("EVAL", "FCALL")):
            return True
        return c.name in _LIST_CHANGES and any(_arg(a) in lists for a in c.args)

    def only_takes(step: list[Any]) -> bool:  # out of waiting, into nothing
        moves = [c for c in step if changes(c)]
        return all(c.name in _TAKES and c.args and _arg(c.args[0]) == waiting for c in moves)

    moving = [step for step in steps if any(changes(c) for c in step)]
    if len(moving) < 2:
        return None
    shown = " + ".join(c.name for step in moving for c in step if changes(c))
    if not batched and only_takes(moving[0]):
        return _("one dequeue sent {sent}: the job leaves {name} with one command and reaches {processing} with "
                 "another, so a worker that dies between the two has taken it out of Redis and put it nowhere: the "
                 "job is lost, the very loss the processing list is there to prevent; move it in one atomic step "
                 "(BLMOVE {name} {processing} RIGHT LEFT).").format(sent=shown, name=waiting, processing=processing)
    return _("one dequeue sent {sent}: separate steps, so a worker that dies between them, or another worker whose "
             "commands run between them, can leave the job in neither list (lost) or in both (run twice); move it "
             "in one atomic step (BLMOVE {name} {processing} RIGHT LEFT; a pipeline without MULTI is not one)."
             ).format(sent=shown, name=waiting, processing=processing)


def recovered_too_early(moved: Any, job: str) -> str:
    """The verdict when recover(now) re-queued `job` before its lease expired. `moved` is what the
    student's recover() returned: a count takes the singular or the plural it needs in each language
    (English said "moved 1 jobs"); anything else (None, True, a list) is echoed as it is."""
    if isinstance(moved, int) and not isinstance(moved, bool):
        return ngettext("recover(now) right after the crash moved {moved} job: {job}'s lease has not expired yet "
                        "(its worker may only be slow), so leave it; re-queue only leases whose deadline ≤ now.",
                        "recover(now) right after the crash moved {moved} jobs: {job}'s lease has not expired yet "
                        "(its worker may only be slow), so leave it; re-queue only leases whose deadline ≤ now.",
                        moved).format(moved=moved, job=job)
    return _("recover(now) right after the crash returned {moved!r}: {job}'s lease has not expired yet (its worker "
             "may only be slow), so leave it; re-queue only leases whose deadline ≤ now.").format(moved=moved, job=job)


@guard
def my_reliable_queue(r: Any, namespace: Mapping[str, Any]) -> str:
    """An ack among two jobs in flight removes exactly the delivered one; one traced dequeue moves its job
    from waiting to processing in one atomic step (a crash between two commands would lose it, and the
    crash injection below only kills a worker after dequeue returned); then twenty jobs through labqueue
    Workers, the first one killed mid-job (the lab's crash injection): nothing lost, the crashed job waits
    in the processing list, every acked job left it."""
    (MyReliableQueue,) = need(namespace, _("Build it yourself: a reliable dequeue and an exact ack"), "MyReliableQueue")
    from ..trace import Tracer
    from .harness import StudentQueue, run_workers

    name = qname("nb02a-myreliable")
    with state(r, name):
        q = MyReliableQueue(r, name)
        processing = q.processing
        for job in jobs(2, prefix="pair"):
            q.enqueue(job)
        first, second = q.dequeue(1), q.dequeue(1)
        if first is None or second is None:
            raise fail(_("with two jobs waiting, two dequeue(1) calls should deliver both."))
        if job_ids([first, second]) != ["pair-00", "pair-01"]:
            raise fail(_("jobs came out as {order}: the oldest first (move from the tail).")
                       .format(order=said(job_ids([first, second]))))
        if sorted(_ids(r, processing)) == ["pair-00", "pair-01"]:  # moved: now the ack must be exact
            q.ack(second)
            left = _ids(r, processing)
            if "pair-00" not in left:
                raise fail(_("with pair-00 and pair-01 in flight, ack(pair-01) removed pair-00, a job still being "
                             "worked on: remove the delivered entry itself (LREM processing 1 entry), never whatever "
                             "is at one end of the list."))
            if left != ["pair-00"]:
                raise fail(_("ack(pair-01) left pair-01 in the processing list: ack must remove the very entry it is "
                             "given (LREM processing 1 entry), and LREM finds it only byte for byte as the move "
                             "stored it (a job changed and re-serialised after the move never matches)."))
            if r.llen(name):
                raise fail(_("an ack should not touch the waiting list."))
        r.delete(name, processing)

        tracer = Tracer(r, preload_scripts=False)  # one dequeue, command by command
        traced = MyReliableQueue(tracer.client, name)
        traced.enqueue({"id": "traced", "type": "work"})
        with tracer.record("dequeue") as sent:
            traced.dequeue(1)
        tracer.close()
        if _ids(r, processing) == ["traced"] and (split := split_move(sent, name, processing)):
            raise fail(split)  # (a dequeue that never reaches processing is told below: the crash loses its job)
        r.delete(name, processing)

        batch = jobs(20)
        for job in batch:
            q.enqueue(job)
        view = StudentQueue(q, r, name, processing)
        tally = run_workers(view, job_ids(batch), workers=2, crash_first=1)
        if tally.lost:
            raise fail(_("job {job} was lost: it left Redis at dequeue and the worker died before finishing it; move "
                         "it into the processing list instead (BLMOVE {name} → {processing}).")
                       .format(job=tally.lost_ids[0], name=name, processing=processing))
        left = _ids(r, processing)
        crashed = [e.job_id for e in view.last_log.crashed()]
        stale = [j for j in left if j not in crashed]
        if stale:
            raise fail(_("job {job} was done and acked but is still in the processing list ({n} entries left): your "
                         "ack did not remove the entry it was given (LREM processing 1 <entry> removes it only if it is "
                         "byte for byte the string the move stored; a job changed and re-serialised after the move "
                         "never matches).").format(job=stale[0], n=len(left)))
        if left != crashed:
            raise fail(_("after the run the processing list holds {left}; it should hold just {crashed}, the job of "
                         "the worker that died, until a recovery puts it back.")
                       .format(left=said(left) or _("nothing"), crashed=said(crashed)))
    return passed(_("MyReliableQueue works: a worker killed mid-job lost nothing (its job waits in the processing "
                    "list for a recovery), every acked job left the processing list, and an ack removes exactly "
                    "the entry it was given."))


@guard
def my_recovery(r: Any, namespace: Mapping[str, Any]) -> str:
    """A crashed worker's job comes back once its lease expired (and only then), a live worker's job is
    left alone, an acked job is never re-queued, a recovered job is the next one taken, and two
    recoverers racing re-queue each job once."""
    (MyLeasedQueue,) = need(namespace, _("Build it yourself: recovering expired leases"), "MyLeasedQueue")
    from .harness import StudentQueue, run_workers

    name = qname("nb02b-myleased")
    with state(r, name):
        q = MyLeasedQueue(r, name)
        q.lease_seconds = 30  # long enough that no lease expires by itself during the check
        batch = jobs(20)
        for job in batch:
            q.enqueue(job)
        view = StudentQueue(q, r, name, q.processing)
        tally = run_workers(view, job_ids(batch), workers=2, crash_first=1)
        held = _ids(r, q.processing)
        if len(held) != 1 or tally.lost:
            raise fail(_("before any recovery the processing list should hold the crashed worker's job alone; it "
                         "holds {held} (the dequeue and ack are given: run their cell unchanged).")
                       .format(held=said(held) or _("nothing")))
        crashed = held[0]
        early = q.recover(time.time())
        if _ids(r, q.processing) != [crashed] or early:
            raise fail(recovered_too_early(early, crashed))
        moved = q.recover(time.time() + q.lease_seconds + 1)
        if crashed in _ids(r, q.processing):
            raise fail(_("{job}'s lease expired but recover() left it in the processing list: nobody will ever run "
                         "it; push it back to the waiting list and remove it from processing and leases.")
                       .format(job=crashed))
        if crashed not in _ids(r, name):
            raise fail(_("job {job} was lost: recover() removed it from the processing list but did not push it back "
                         "to the waiting list.").format(job=crashed))
        if moved != 1:
            raise fail(_("recover() re-queued one job but returned {moved!r}; return how many it re-queued.")
                       .format(moved=moved))
        again = run_workers(view, [crashed], workers=2)
        if again.processed != 1 or r.llen(q.processing) or r.zcard(q.leases):
            raise fail(_("after the recovery the workers ran {job} {times} time(s); the processing list holds "
                         "{processing} and the leases {leases}: recover() should move the job back to the waiting "
                         "list and remove its lease.").format(job=crashed, times=again.processed,
                                                              processing=r.llen(q.processing), leases=r.zcard(q.leases)))

        q.enqueue({"id": "live", "type": "work"})
        live = q.dequeue(1)
        q.enqueue({"id": "acked", "type": "work"})
        q.ack(q.dequeue(1))
        if q.recover(time.time() + 0.01 * q.lease_seconds) or job_ids(r.lrange(name, 0, -1)):
            raise fail(_("recover() re-queued a job whose worker is alive (lease not expired) or already acked: "
                         "that job would run twice."))
        q.ack(live)

        q.enqueue({"id": "first", "type": "work"})
        q.dequeue(1)  # its worker dies
        q.enqueue({"id": "next", "type": "work"})  # enqueued meanwhile: it waits behind the recovered job
        q.recover(time.time() + q.lease_seconds + 1)
        if job_ids(r.lrange(name, 0, -1)) == ["first", "next"]:  # LPUSH'd: dequeue takes from the tail
            raise fail(_("recover() put job first back at the head of the waiting list, behind next, which was "
                         "enqueued after it: dequeue takes from the tail, so push a recovered job there (RPUSH), "
                         "the next one taken; it already waited its turn once."))

        r.delete(name, q.processing, q.leases)
        for job in jobs(150, prefix="stale"):
            q.enqueue(job)
        for _n in range(150):
            q.dequeue(1)  # 150 deliveries whose workers then died
        later = time.time() + q.lease_seconds + 1
        recoverers = [MyLeasedQueue(type(r)(connection_pool=r.connection_pool), name) for _n in range(2)]
        for p in recoverers:
            p.lease_seconds = q.lease_seconds
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def recover(p: Any) -> None:
            try:
                barrier.wait(5)
                p.recover(later)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=recover, args=(p,), daemon=True) for p in recoverers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if errors:
            raise errors[0]
        back = _ids(r, name)
        twice = sorted({j for j in back if back.count(j) > 1})
        if twice:
            raise fail(_("with two recoverers racing (two workers' heartbeats), job {job} was re-queued {times} "
                         "times: both read its lease as expired before either removed it; do the read and the moves "
                         "in one Lua script (or re-queue only when your ZREM removed it).")
                       .format(job=twice[0], times=back.count(twice[0])))
        if len(set(back)) != 150 or r.llen(q.processing) or r.zcard(q.leases):
            raise fail(_("with two recoverers racing, {back} of 150 expired jobs came back to the waiting list; "
                         "{left} are still in processing.").format(back=len(set(back)), left=r.llen(q.processing)))
    return passed(_("your recover() brings back a dead worker's job once its lease has expired and not before, "
                    "as the next one taken, leaves live and acked jobs alone, and two recoverers racing over 150 "
                    "expired leases re-queued each job once."))


@guard
def twice_prediction(r: Any, namespace: Mapping[str, Any]) -> str:
    """Thirty jobs on a ReliableQueue, two workers killed after their work and before their ack, a
    survivor whose heartbeat recovers the leases; then `my_prediction` against the tally."""
    (prediction,) = need(namespace, _("Exercise"), "my_prediction")
    if prediction is None:
        raise NotDone(_("put your prediction in `my_prediction` (an integer), run its cell, then this check."))
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        raise fail(_("my_prediction should be an integer number of jobs, not {got!r}.").format(got=prediction))
    import labqueue as lq

    from ..crashing import CrashingWorker

    from .. import experiments

    q = lq.ReliableQueue(r, qname("nb02b-exercise"), lease_seconds=0.3, max_attempts=10)
    q.clear()
    try:
        log = experiments.ExecutionLog(work_seconds=0.005)
        ids = [q.enqueue({"type": "work", "n": i}, job_id=f"ex-{i:02d}") for i in range(30)]
        for n in range(2):  # two workers die right after their work, before the ack
            w = CrashingWorker(q, {"work": log.handler}, name=f"x{n}", crash_point="after", poll_seconds=0.1,
                               on_event=log.on_event)
            w.crash()
            w.run()
        survivor = lq.Worker(q, {"work": log.handler}, name="survivor", poll_seconds=0.1,
                             on_event=log.on_event).start()  # its heartbeat recovers the two leases
        try:
            experiments.wait_for(lambda: sum(log.completed().values()) >= 32 and experiments.drained(q))
        finally:
            survivor.stop()
        measured = experiments.tally(q, ids, log)
        if measured.lost or measured.processed != 30 or measured.crashed != 2 or any(q.counts().values()):
            raise fail(_("the experiment did not run as planned: {tally} (re-run the notebook from the top).")
                       .format(tally=measured.as_dict()))
    finally:
        q.clear()
    if prediction != measured.processed_twice:
        raise fail(_("not quite: you said {said}. Ask what the two workers had done before dying, what Redis "
                     "still held for them, and what the recovery did with it; then change my_prediction.")
                   .format(said=prediction))
    return passed(_("correct: {twice} of 30 ran twice, none lost. A worker that dies after the work but before "
                    "the ack leaves its job in processing; its lease expires and the job runs again: "
                    "at-least-once, so handlers must be idempotent (notebook 09).")
                  .format(twice=measured.processed_twice))
