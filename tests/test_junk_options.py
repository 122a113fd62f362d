"""Junk in a stored job's options (a record written by hand, or by an older version) never breaks a script.

add() checks every option (jobspec.normalise), but the scripts read the record as it is stored. A value
normalise would refuse (-Infinity, NaN, a fraction, a string, a list...) is read as the option's default,
or the job alone fails for good with a reason naming the option: never a script error after part of its
work is written (a batch's finish half applied, the rest of the batch left active, the worker thread ended),
never a job retried forever or left in no state. Fake, real and cluster (the `r` fixture).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from labqueue import Worker
from labqueue.errors import InvalidJob
from labqueue.jobqueue import JobQueue
from labqueue.jobspec import normalise
from labqueue.scripts import Outcome

# JSON as a record written by hand may hold it (Python's json.dumps writes NaN and Infinity; cjson reads them)
VALUES = {"-inf": "-Infinity", "inf": "Infinity", "nan": "NaN", "negative": "-1", "huge": "1e300",
          "fraction": "2.5", "string": '"3"', "list": "[1]", "object": '{"a":1}', "true": "true",
          "false": "false", "null": "null", "too-big-int": str(2**53 + 2)}
FIELDS = ("priority", "attempts", "backoff", "backoff.type", "backoff.delay", "backoff.factor", "backoff.cap",
          "backoff.jitter", "delay", "timeout", "repeat", "remove_on_complete", "remove_on_fail", "job_id")


def opts_json(field: str, value: str) -> str:
    """The "opts" member's JSON with `field` (dotted: a member of backoff) holding `value` (JSON text)."""
    if "." in field:
        outer, inner = field.split(".")
        base = {"type": "exponential", "delay": 0} if inner != "type" else {"delay": 0}
        members = [f'"{k}":{json.dumps(v)}' for k, v in base.items() if k != inner] + [f'"{inner}":{value}']
        return f'"{outer}":{{{",".join(members)}}}'
    return f'"{field}":{value}'


def is_junk(field: str, value: str) -> bool:
    """What add() refuses (jobspec.normalise) is junk; null is an option left out."""
    if value == "null" and "." not in field:
        return False
    try:
        normalise(json.loads("{" + opts_json(field, value) + "}"))
    except InvalidJob:
        return True
    return False


JUNK = [pytest.param(f, v, id=f"{f}={name}") for f in FIELDS for name, v in VALUES.items() if is_junk(f, v)]
FAILS = {"attempts", "backoff", "timeout", "repeat"}  # the option that makes a failing job fail for good, or
# any job fail as it starts; the others are read as their default (they only decide where a job goes or stays)


def record(field: str, value: str, attempts: int | None = None) -> str:
    extra = f',"attempts":{attempts}' if attempts is not None and field != "attempts" else ""
    return f'{{"name":"j","data":{{}},"ts":0,"opts":{{{opts_json(field, value)}{extra}}}}}'


@pytest.mark.parametrize(("field", "value"), JUNK)
def test_a_worker_runs_or_fails_jobs_with_junk_options_and_its_batch_goes_on(r: Any, field: str, value: str) -> None:
    """Two jobs with junk in one option among two fine ones, one worker thread taking them as one batch: every
    job completes or fails for good (a reason naming the option when the option decided it), nothing stays
    waiting, active or delayed, and the thread never stops on an error. Before, -Infinity or 2.5 in a
    retention option made jq_finish fail after finishing the job (ZRANGE with a range that is no integer):
    the rest of the ack batch stayed active and the thread ended; NaN, Infinity or "3" attempts retried a
    failing job on and on."""
    q = JobQueue(r, f"junk-opts-{field}", lease_seconds=30)
    q.add_bulk([("j", {}, {"job_id": "a"}), ("j", {}, {"job_id": "b"}), ("j", {}, {"job_id": "c"}),
                ("j", {}, {"job_id": "d"})])
    r.hset(q.keys.jobs, mapping={"a": record(field, value), "b": record(field, value, attempts=2)})
    runs: dict[str, int] = {}

    def handler(job: Any) -> None:
        runs[job.id] = runs.get(job.id, 0) + 1
        if job.id == "b" and runs["b"] <= 2:  # fails twice (attempts 2: for good), would complete a third time
            raise RuntimeError("boom")

    w = Worker(q, {"j": handler}, prefetch=4, poll_seconds=0.05, burst=True)
    w.start()
    assert w.join(timeout=30) == []
    assert w.stats["errors"] == 0
    counts = q.get_job_counts()
    assert counts["waiting"] == counts["active"] == counts["delayed"] == 0, counts
    completed = set(r.zrange(q.keys.completed, 0, -1))
    failed = {i: r.hget(q.keys.errors, i) for i in r.zrange(q.keys.failed, 0, -1)}
    assert {"c", "d"} <= completed and set(completed) | set(failed) == {"a", "b", "c", "d"}, (completed, failed)
    name = field.split(".")[0]
    if name in ("timeout", "repeat"):  # never started: the record cannot run
        assert set(failed) == {"a", "b"} and all(name in reason for reason in failed.values()), failed
        assert "a" not in runs and "b" not in runs
    elif name in ("attempts", "backoff"):  # its first failure is its last, and says why
        assert "a" in completed and set(failed) == {"b"} and runs["b"] == 1, (completed, failed, runs)
        assert "boom" in failed["b"] and f"'{name}'" in failed["b"], failed
    else:  # read as the default: b fails twice, for good
        assert "a" in completed and set(failed) == {"b"} and runs["b"] == 2, (completed, failed, runs)
        assert failed["b"] == "RuntimeError: boom"


RETENTION = [p for p in JUNK if p.values[0] in ("remove_on_complete", "remove_on_fail")]


@pytest.mark.parametrize(("field", "value"), RETENTION)
def test_a_batch_finish_with_junk_retention_ends_every_delivery_and_keeps_the_jobs(
        r: Any, field: str, value: str) -> None:
    """jq_finish on a batch whose first job's retention option is junk: every delivery ends, and the junk
    option is read as its default, keep. Before, -Infinity or 2.5 raised after the first job was finished
    (the other two left active, the whole call an error), and -1 removed every finished job, the new one too."""
    q = JobQueue(r, "junk-retention", lease_seconds=30)
    olds = ["old1", "old2", "old3"]  # with a: 4 finished, so 2.5 makes a range of 1.5 (no integer)
    q.add_bulk([("j", {}, {"job_id": i}) for i in (*olds, "a", "b", "c")])
    outcome = "completed" if field == "remove_on_complete" else "dead"
    got = q.claim(3)[0]
    codes = q.finish_many([(job_id, token, outcome, '"x"', 0.0, 0.0, "j") for job_id, _, token, _ in got])
    assert len(set(codes)) == 1 and codes[0] in (Outcome.COMPLETED, Outcome.DEAD)
    r.hset(q.keys.jobs, "a", record(field, value))
    got = q.claim(3)[0]
    assert [job_id for job_id, *_ in got] == ["a", "b", "c"]
    codes = q.finish_many([(job_id, token, outcome, '"x"', 0.0, 0.0, "j") for job_id, _, token, _ in got])
    want = Outcome.COMPLETED if outcome == "completed" else Outcome.DEAD
    assert codes == [want] * 3
    kept = q.keys.completed if outcome == "completed" else q.keys.failed
    assert r.zcard(q.keys.active) == 0 and sorted(r.zrange(kept, 0, -1)) == ["a", "b", "c", *olds]
    assert all(r.hexists(q.keys.jobs, i) for i in ("a", "b", "c", *olds))


@pytest.mark.parametrize(("field", "value"), [p for p in RETENTION if p.values[0] == "remove_on_fail"])
def test_jobs_failed_for_stalling_with_junk_remove_on_fail_all_fail_with_their_reason(
        r: Any, field: str, value: str) -> None:
    """jq_stalled fails jobs stalled too often; a junk remove_on_fail on the first one (kept, its default)
    never stops the run: both fail with their reason. Before, -Infinity raised after the first one moved to
    `failed`: the second stayed active past its lease, and every later check raised again."""
    q = JobQueue(r, "junk-stalled", lease_seconds=30, max_stalled=0)
    q.add_bulk([("j", {}, {"job_id": "a"}), ("j", {}, {"job_id": "b"})])
    r.hset(q.keys.jobs, "a", record(field, value))
    assert len(q.claim(2)[0]) == 2
    r.zadd(q.keys.active, {"a": 1, "b": 2})  # both leases ran out
    assert q.check_stalled() == {"requeued": 0, "failed": 2}
    assert r.zcard(q.keys.active) == 0 and sorted(r.zrange(q.keys.failed, 0, -1)) == ["a", "b"]
    assert all("stalled" in r.hget(q.keys.errors, i) for i in ("a", "b"))


PRIORITY = [p for p in JUNK if p.values[0] == "priority"]


@pytest.mark.parametrize("path", ["promote", "retry", "release", "stalled", "failed retry"])
@pytest.mark.parametrize(("field", "value"), PRIORITY)
def test_a_junk_priority_is_read_as_none_on_every_way_back_to_ready(r: Any, field: str, value: str, path: str) -> None:
    """Every move that makes a job ready (jq_lib's ready(): promoted, retried, released, stalled, an admin
    retry) reads a junk priority as 0, no priority: the job waits in `wait`. Before, Infinity and 1e300 put it
    behind every prioritized job (a score of inf), "3" at priority 3, 2.5 between the levels, 2**53 + 2 past
    the exact scores (2**21 - 1 is the highest, jobspec.normalise)."""
    q = JobQueue(r, "junk-prio", lease_seconds=30)
    q.add("j", {}, job_id="x", attempts=3, **({"delay": 60} if path == "promote" else {}))
    r.hset(q.keys.jobs, "x", record(field, value, attempts=3))
    if path == "promote":
        r.zadd(q.keys.delayed, {"x": 0})  # due now
        q.claim(0)
    else:
        (_, _, token, _), = q.claim(1)[0]
        if path == "retry":
            assert q.finish("x", token, "failed", "boom") == Outcome.RETRIED
        elif path == "release":
            assert q.release(SimpleNamespace(id="x", token=token)) == Outcome.RELEASED  # type: ignore[arg-type]
        elif path == "stalled":
            r.zadd(q.keys.active, {"x": 0})  # its lease ran out
            assert q.check_stalled()["requeued"] == 1
        else:
            assert q.finish("x", token, "dead", "boom") == Outcome.DEAD
            assert q.retry("x")
    assert r.lrange(q.keys.wait, 0, -1) == ["x"] and r.zcard(q.keys.prio) == 0
    assert [job_id for job_id, *_ in q.claim(1)[0]] == ["x"]


def test_an_id_refused_as_not_utf8_is_counted_and_trimmed_as_every_job_failed_for_good(make_client: Any) -> None:
    """jq_claim fails a job whose id is not UTF-8 (it cannot be delivered); like every other job failed for
    good it counts in total_failed and its remove_on_fail applies. Before, it was neither counted nor
    trimmed: a queue with remove_on_fail kept every such job, and the metrics showed a failed job fewer."""
    from labqueue.metrics import QueueMetrics

    raw = make_client(decode_responses=False)
    q = JobQueue(raw, "junk-utf8")
    q.add("j", {}, job_id="older", remove_on_fail=1)
    (older,), *_ = q.claim(1)
    assert q.finish("older", older[2], "dead", "boom") == Outcome.DEAD
    assert raw.zrange(q.keys.failed, 0, -1) == [b"older"]
    raw.hset(q.keys.jobs, mapping={b"gone-\xff": b'{"name":"j","data":{},"opts":{"remove_on_fail":true}}',
                                   b"kept-\xfe": b'{"name":"j","data":{},"opts":{"remove_on_fail":1}}'})
    raw.lpush(q.keys.wait, b"gone-\xff", b"kept-\xfe")
    assert q.claim(5)[0] == []
    assert raw.zrange(q.keys.failed, 0, -1) == [b"kept-\xfe"]  # gone at once; kept trims the older one
    assert not raw.hexists(q.keys.jobs, b"gone-\xff") and not raw.hexists(q.keys.jobs, "older")
    assert b"not valid UTF-8" in raw.hget(q.keys.errors, b"kept-\xfe")
    assert QueueMetrics(raw, "junk-utf8").get_metrics()["total_failed"] == 3


def test_add_refuses_more_attempts_than_the_scripts_can_count(r: Any) -> None:
    """attempts past 2**53 - 1 are refused at add (InvalidJob naming it, nothing written): the scripts read
    numbers as doubles, so 2**53 + 2 and 2**53 + 3 were one count, and their junk check reads them as 1."""
    q = JobQueue(r, "huge-attempts")
    with pytest.raises(InvalidJob, match="'attempts'"):
        q.add("j", {}, attempts=2**53)
    assert q.add("j", {}, attempts=2**53 - 1) and q.get_job_counts()["waiting"] == 1
