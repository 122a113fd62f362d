"""Model-based test of the production queue (hypothesis stateful testing), the options it adds included.

Random add (priority, attempts, remove_on_complete) / claim / finish (completed, failed, and a late
finish by a delivery that is no longer ours) / release of a job in hand (unrun: first in line again, ahead
of its level) / retry of a failed job / pause / resume, against a small
in-memory model of BullMQ's order: jobs without priority first, in arrival order, then by priority
(then arrival). Leases are long and retries immediate, so no step depends on time. After every step
each job is in the state the model says (get_job, get_job_counts) and a removed job is gone.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from labqueue.jobqueue import JobQueue
from labqueue.scripts import Outcome


class JobQueueMachine(RuleBasedStateMachine):
    """JobQueue against a model: the ready order, the job in hand (id -> token), attempts, finished states."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.r = client
        self.r.flushall()
        self.q = JobQueue(client, "model", lease_seconds=60)
        self.wait: list[str] = []  # ready jobs without priority, oldest first (the list's right end)
        self.prio: list[tuple[int, int, str]] = []  # (priority, sequence, id) of ready prioritized jobs
        self.seq = 0
        self.released = 0  # released jobs: sequence -1, -2, ... (ahead of every job of their level)
        self.state: dict[str, str] = {}  # id -> waiting, active, completed, failed, removed
        self.opts: dict[str, dict[str, Any]] = {}
        self.made: dict[str, int] = {}  # failed attempts
        self.held: dict[str, int] = {}  # job in hand -> its delivery token
        self.late: list[tuple[str, int]] = []  # deliveries that ended: a finish by them is not ours
        self.paused = False

    def ready(self, job_id: str, priority: int) -> None:
        if priority > 0:
            self.seq += 1
            self.prio.append((priority, self.seq, job_id))
        else:
            self.wait.append(job_id)
        self.state[job_id] = "waiting"

    @rule(priority=st.sampled_from([0, 0, 1, 3]), attempts=st.sampled_from([1, 2, 3]),
          remove=st.sampled_from([None, None, True]))
    def add(self, priority: int, attempts: int, remove: bool | None) -> None:
        opts: dict[str, Any] = {"priority": priority, "attempts": attempts}
        if remove:
            opts["remove_on_complete"] = True
        job_id = self.q.add("work", {}, **opts)
        assert job_id not in self.state
        self.opts[job_id] = opts
        self.made[job_id] = 0
        self.ready(job_id, priority)

    @rule(n=st.sampled_from([1, 1, 2, 3]))
    def claim(self, n: int) -> None:
        jobs = self.q.claim(n)[0]
        expected: list[str] = []
        if not self.paused:
            while len(expected) < n and (self.wait or self.prio):
                if self.wait:
                    expected.append(self.wait.pop(0))
                else:
                    self.prio.sort()
                    expected.append(self.prio.pop(0)[2])
        assert [job_id for job_id, *_ in jobs] == expected
        for job_id, _raw, token, made in jobs:
            assert made == self.made[job_id]
            self.held[job_id] = token
            self.state[job_id] = "active"

    @precondition(lambda self: self.held)
    @rule(data=st.data(), ok=st.booleans())
    def finish(self, data: st.DataObject, ok: bool) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        token = self.held.pop(job_id)
        code = self.q.finish(job_id, token, "completed" if ok else "failed", '"r"' if ok else "boom")
        self.late.append((job_id, token))
        if ok:
            assert code == Outcome.COMPLETED
            self.state[job_id] = "removed" if self.opts[job_id].get("remove_on_complete") else "completed"
            return
        self.made[job_id] += 1
        if self.made[job_id] >= self.opts[job_id]["attempts"]:
            assert code == Outcome.DEAD
            self.state[job_id] = "failed"
        else:  # retried at once: back at the end of its line, with its priority (jq_finish.lua)
            assert code == Outcome.RETRIED
            self.ready(job_id, self.opts[job_id]["priority"])
            self.state[job_id] = "waiting"

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        token = self.held.pop(job_id)
        assert self.q.release(SimpleNamespace(id=job_id, token=token)) == Outcome.RELEASED  # type: ignore[arg-type]
        self.late.append((job_id, token))
        priority = self.opts[job_id]["priority"]
        if priority > 0:
            self.released += 1
            self.prio.append((priority, -self.released, job_id))
        else:
            self.wait.insert(0, job_id)
        self.state[job_id] = "waiting"

    @precondition(lambda self: self.late)
    @rule(data=st.data(), ok=st.booleans())
    def finish_late(self, data: st.DataObject, ok: bool) -> None:
        job_id, token = data.draw(st.sampled_from(self.late))
        if self.held.get(job_id) == token:
            return  # a later delivery of it happens to hold the same number: not a late call
        assert self.q.finish(job_id, token, "completed" if ok else "failed", '"x"') == Outcome.NOT_OURS

    @precondition(lambda self: any(s == "failed" for s in self.state.values()))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(i for i, s in self.state.items() if s == "failed")))
        assert self.q.retry(job_id)
        self.made[job_id] = 0
        self.ready(job_id, self.opts[job_id]["priority"])

    @rule()
    def pause_or_resume(self) -> None:
        if self.paused:
            self.q.resume()
        else:
            self.q.pause()
        self.paused = not self.paused

    @invariant()
    def redis_matches_the_model(self) -> None:
        counts = {s: 0 for s in ("waiting", "active", "completed", "failed")}
        for job_id, state in self.state.items():
            job = self.q.get_job(job_id)
            if state == "removed":
                assert job is None, job_id
                continue
            counts[state] += 1
            assert job is not None, job_id
            assert job.state == ("paused" if state == "waiting" and self.paused else state), (job_id, job.state)
            assert job.attempts_made == self.made[job_id], job_id
        waiting = counts.pop("waiting")
        assert self.q.get_job_counts() == {**counts, "delayed": 0, "waiting": 0 if self.paused else waiting,
                                           "paused": waiting if self.paused else 0}


def test_jobqueue_matches_its_model(r: Any) -> None:
    """Every step of a random run leaves each job where the model says, in BullMQ's order."""
    run_state_machine_as_test(
        lambda: JobQueueMachine(r),
        settings=settings(max_examples=30, stateful_step_count=30, deadline=None,
                          suppress_health_check=list(HealthCheck)))
