"""Model-based test of the reliable queue (hypothesis stateful testing).

Random enqueue / claim / dequeue / ack / nack / release / heartbeat / worker death / a worker dying
between its BLMOVE and its lease / time passing / recovery, against a small in-memory model. Time
is injected through the queue's test-only `clock=` (the scripts then use it instead of the server's
TIME), so leases expire without sleeping. After every step, every job is in exactly one place in Redis, the
place the model says, and the bookkeeping (inflight, leases, attempts) matches.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from labqueue import Job, ReliableQueue
from labqueue.scripts import Outcome

LEASE = 10.0
MAX_ATTEMPTS = 3


class FakeClock:
    """A clock the test moves by hand (the queue's `clock=`: its scripts read it instead of TIME)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


class ReliableQueueMachine(RuleBasedStateMachine):
    """The reliable queue against a model: job id -> place, plus leases, attempts and orphans."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.r = client
        self.r.flushall()
        self.clock = FakeClock()
        self.q = ReliableQueue(client, "model", lease_seconds=LEASE, max_attempts=MAX_ATTEMPTS, clock=self.clock.time)
        self.place: dict[str, str] = {}  # waiting, processing, orphan, delayed, dead, done
        self.deadline: dict[str, float] = {}  # leased job -> lease deadline
        self.due: dict[str, float] = {}  # delayed job -> retry time
        self.attempts: dict[str, int] = {}
        self.first_seen: dict[str, float] = {}  # orphan -> when recovery first saw it
        self.held: dict[str, Job] = {}  # jobs in the hands of a live worker
        self.stale: dict[str, Job] = {}  # jobs a live but slow worker still holds after recovery took them
        self.n = 0

    # -- helpers ---------------------------------------------------------------------------------
    def ids(self, where: str) -> list[str]:
        return sorted(i for i, p in self.place.items() if p == where)

    def deliver(self, job: Job) -> None:
        """A job came out of claim/dequeue: it must have been waiting; it is now leased and held."""
        assert self.place.get(job.id) == "waiting", f"{job.id} delivered from {self.place.get(job.id)}"
        self.place[job.id] = "processing"
        self.attempts[job.id] = self.attempts.get(job.id, 0) + 1
        assert job.attempts == self.attempts[job.id]
        self.deadline[job.id] = self.clock.now + LEASE
        self.held[job.id] = job

    def promote_due(self) -> None:
        for i in [i for i, t in self.due.items() if t <= self.clock.now]:
            del self.due[i]
            self.place[i] = "waiting"

    def leave_flight(self, job_id: str) -> None:
        self.deadline.pop(job_id, None)
        self.held.pop(job_id, None)

    # -- rules -----------------------------------------------------------------------------------
    @rule()
    def enqueue(self) -> None:
        job_id = f"j{self.n}"
        self.n += 1
        assert self.q.enqueue({"type": "t", "n": self.n}, job_id=job_id) == job_id
        self.place[job_id] = "waiting"

    @rule(ack_held=st.booleans())
    def claim(self, ack_held: bool) -> None:
        """A worker's hot path: ack what it holds (optionally), promote due retries, claim one."""
        to_ack = sorted(self.held) if ack_held else []
        jobs, _ = self.q.claim(1, ack=[self.held[i] for i in to_ack])
        for job_id in to_ack:
            self.place[job_id] = "done"
            self.attempts.pop(job_id, None)
            self.leave_flight(job_id)
        self.promote_due()
        assert len(jobs) == (1 if self.ids("waiting") else 0)
        for job in jobs:
            self.deliver(job)

    @rule()
    def dequeue(self) -> None:
        job = self.q.dequeue(timeout=0)
        assert (job is None) == (not self.ids("waiting"))
        if job is not None:
            self.deliver(job)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        assert self.q.ack(self.held[job_id]) == 1  # claim.lua with nothing to claim: due retries are promoted too
        self.place[job_id] = "done"
        self.attempts.pop(job_id, None)
        self.leave_flight(job_id)
        self.promote_due()

    @precondition(lambda self: self.held)
    @rule(data=st.data(), delay=st.sampled_from([0.0, 0.0, 5.0, 30.0]), retry=st.booleans())
    def nack(self, data: st.DataObject, delay: float, retry: bool) -> None:
        job = self.held[data.draw(st.sampled_from(sorted(self.held)))]
        code = self.q.nack(job, "boom", retry=retry, delay=delay)
        self.leave_flight(job.id)
        if retry and self.attempts[job.id] < MAX_ATTEMPTS:
            assert code == Outcome.RETRIED
            if delay > 0:
                self.place[job.id], self.due[job.id] = "delayed", self.clock.now + delay
            else:
                self.place[job.id] = "waiting"
        else:
            assert code == Outcome.DEAD
            self.place[job.id] = "dead"
            self.attempts.pop(job.id, None)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        assert self.q.release(self.held[job_id]) == Outcome.RELEASED
        self.leave_flight(job_id)
        self.place[job_id] = "waiting"
        self.attempts[job_id] -= 1

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def worker_dies(self, data: st.DataObject) -> None:
        """kill -9 of the worker holding a job: nothing happens in Redis; its lease will expire."""
        del self.held[data.draw(st.sampled_from(sorted(self.held)))]

    @precondition(lambda self: any(p == "waiting" for p in self.place.values()))
    @rule()
    def worker_dies_before_lease(self) -> None:
        """A worker that dies between its BLMOVE and lease.lua leaves an unleased job in processing."""
        raw = self.r.lmove(self.q.keys.waiting, self.q.keys.processing, "RIGHT", "LEFT")
        job_id = json.loads(raw)["id"]
        assert self.place[job_id] == "waiting"
        self.place[job_id] = "orphan"

    @rule()
    def heartbeat(self) -> None:
        """Live workers extend the leases of the jobs they hold (ZADD XX CH)."""
        alive = [i for i in self.held if i in self.deadline]
        self.q.extend_lease([self.held[i] for i in alive])
        for job_id in alive:
            self.deadline[job_id] = self.clock.now + LEASE

    @rule(seconds=st.sampled_from([1.0, 4.0, 11.0, 31.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def recover(self) -> None:
        found = self.q.recover_stale_jobs()
        expired = sorted(i for i, t in self.deadline.items() if t <= self.clock.now)
        dead = [i for i in expired if self.attempts[i] >= MAX_ATTEMPTS]
        for job_id in expired:
            if job_id in self.held:
                self.stale[job_id] = self.held[job_id]
            self.leave_flight(job_id)  # a live but slow worker loses its lease too
            self.place[job_id] = "dead" if job_id in dead else "waiting"
            if job_id in dead:
                self.attempts.pop(job_id, None)
        back = []
        for job_id in self.ids("orphan"):
            first = self.first_seen.setdefault(job_id, self.clock.now)
            if first != self.clock.now and self.clock.now - first >= LEASE:
                back.append(job_id)
                self.place[job_id] = "waiting"
                del self.first_seen[job_id]
        assert found == {"requeued": len(expired) - len(dead), "dead": len(dead), "orphans": len(back)}

    @precondition(lambda self: self.stale)
    @rule(data=st.data(), call=st.sampled_from(["nack", "dead", "ack", "release", "extend"]))
    def late_call_after_recovery(self, data: st.DataObject, call: str) -> None:
        """A slow worker whose job was taken back (maybe re-delivered since) acts on it late: refused, nothing moves."""
        job = self.stale.pop(data.draw(st.sampled_from(sorted(self.stale))))
        result = {"nack": lambda: self.q.nack(job, "late"), "dead": lambda: self.q.nack(job, "late", retry=False),
                  "ack": lambda: self.q.ack(job), "release": lambda: self.q.release(job),
                  "extend": lambda: self.q.extend_lease([job])}[call]()
        assert result == Outcome.NOT_OURS == 0
        if call == "ack":  # claim.lua, as every ack: due retries are promoted all the same
            self.promote_due()

    # -- the invariant ---------------------------------------------------------------------------
    @invariant()
    def every_job_in_exactly_one_place(self) -> None:
        k, r = self.q.keys, self.r
        seen: dict[str, list[str]] = {}
        for where, raws in (("waiting", r.lrange(k.waiting, 0, -1)), ("processing", r.lrange(k.processing, 0, -1)),
                            ("delayed", r.zrange(k.delayed, 0, -1)), ("dead", list(r.hvals(k.dlq)))):
            for raw in raws:
                seen.setdefault(json.loads(raw)["id"], []).append(where)
        expected = {i: ["processing" if p == "orphan" else p] for i, p in self.place.items() if p != "done"}
        assert seen == expected  # nothing vanished, nothing duplicated, nothing out of place
        leased = {i for i, p in self.place.items() if p == "processing"}
        assert sorted(t.split(":", 1)[1] for t in r.hkeys(k.inflight)) == sorted(leased)  # one delivery each
        assert {m.split(":", 1)[1]: s for m, s in r.zrange(k.leases, 0, -1, withscores=True)} == \
            pytest.approx({i: self.deadline[i] for i in leased})
        assert {i: int(v) for i, v in r.hgetall(k.attempts).items() if int(v)} == \
            {i: n for i, n in self.attempts.items() if n}
        assert {json.loads(m)["id"]: s for m, s in r.zrange(k.delayed, 0, -1, withscores=True)} == \
            pytest.approx(self.due)


def test_reliable_queue_matches_its_model(r: Any) -> None:
    """Under any sequence of operations, crashes and clock jumps, every job is in exactly one place."""
    run_state_machine_as_test(
        lambda: ReliableQueueMachine(r),
        settings=settings(max_examples=40, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
