"""Counters holding junk numbers (huge, negative): delivery tokens, dead-letter keys and job ids stay unique.

Lua numbers are doubles: a counter past 2^53 (set by hand, restored from elsewhere) rounds, so two
INCRs could give the same number; and tostring() writes 1e14 as '1e+14'. Fake, real and cluster.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from labqueue.jobqueue import JobQueue
from labqueue.reliable import ReliableQueue
from labqueue.scripts import Outcome

HUGE = str(2**53 + 1)  # HINCRBY / INCR work on it; the doubles Lua reads round (2^53 + 3 and + 4 both read + 4)


@pytest.mark.parametrize("junk", [HUGE, "-5000"])
def test_jobqueue_tokens_of_one_job_never_repeat_whatever_the_counter_holds(r: Any, junk: str) -> None:
    """Five deliveries of one job under a junk token counter: five different tokens, each >= 0, and a late
    finish of an earlier delivery is NOT_OURS. Past 2^53 the Lua doubles rounded: deliveries 2 and 3 of the
    job both got token 2^53 + 4, so the first worker's late finish ended the second's run. Negative tokens
    made the worker's fail() raise ConfigError (token must be >= 0), ending its thread."""
    q = JobQueue(r, "jobs", lease_seconds=30)
    r.hset(q.keys.meta, "token", junk)
    q.add("j", {}, job_id="x", attempts=2)
    tokens = []
    for _ in range(5):
        (_, _, token, _), = q.claim(1)[0]
        tokens.append(token)
        assert q.release(SimpleNamespace(id="x", token=token)) == Outcome.RELEASED  # type: ignore[arg-type]
    assert len(set(tokens)) == 5 and min(tokens) >= 0, tokens
    (_, _, token, _), = q.claim(1)[0]
    for old in tokens:
        assert q.finish("x", old, "completed", '"late"') == Outcome.NOT_OURS
    assert q.finish("x", token, "failed", "boom", retry_in=0.0) == Outcome.RETRIED


def test_reliable_dead_letters_of_junk_entries_are_never_overwritten(r: Any) -> None:
    """Entries that are no job go to the DLQ under 'invalid:<n>', n from the queue's seq counter; past 2^53
    two n read the same and the second HSET replaced the first dead letter: an entry lost."""
    q = ReliableQueue(r, "jobs")
    r.set(q.keys.seq, HUGE)
    junk = [f"not a job {i}" for i in range(6)]
    r.lpush(q.keys.waiting, *junk)
    assert q.claim(10)[0] == []
    assert sorted(r.hvals(q.keys.dlq)) == sorted(junk)
    assert r.llen(q.keys.processing) == 0


@pytest.mark.parametrize("junk", [HUGE, "-5000"])
def test_reliable_tokens_of_one_job_never_repeat_whatever_the_counter_holds(r: Any, junk: str) -> None:
    """Five deliveries of one job under a junk seq counter: five different tokens, each a delivery token
    ('<n>:<id>'), and the late ack of an earlier one acks nothing. Past 2^53 two deliveries shared a token;
    a negative n made a token ack() refused (ValueError: not a delivery token)."""
    q = ReliableQueue(r, "jobs", lease_seconds=30)
    r.set(q.keys.seq, junk)
    q.enqueue({"n": 1}, job_id="x")
    tokens = []
    for _ in range(5):
        (job,), _ = q.claim(1)
        tokens.append(job.token)
        assert q.release(job) == Outcome.RELEASED
    assert len(set(tokens)) == 5, tokens
    (job,), _ = q.claim(1)
    assert q.ack(*tokens) == 0
    assert q.processing_size() == 1 and q.ack(job) == 1 and q.processing_size() == 0


def test_jobqueue_generated_ids_stay_distinct_past_1e14(r: Any) -> None:
    """Generated ids come from meta's `id` counter; tostring() wrote 10^14 and 10^14 + 1 both as '1e+14', so
    the second add was taken for a duplicate of the first and never added (add() still returned an id)."""
    q = JobQueue(r, "jobs")
    r.hset(q.keys.meta, "id", str(10**14 - 1))
    ids = q.add_bulk([("j", {"i": i}) for i in range(3)]) + [q.add("j", {"i": 3})]
    assert ids == [str(10**14 + i) for i in range(4)]
    assert q.get_job_counts()["waiting"] == 4


NAN_RECORD = '{"name":"j","data":{},"opts":{"priority":NaN,"attempts":3}}'  # json.dumps writes NaN; cjson reads it


@pytest.mark.parametrize("path", ["promote", "retry", "release", "stalled", "failed retry"])
def test_jobqueue_a_record_whose_priority_is_nan_is_never_stranded(r: Any, path: str) -> None:
    """A stored record (written by hand) whose priority is NaN: every move that makes it ready (jq_lib's
    ready(): a delayed job promoted by jq_claim, a retried failure, a release, a stalled job, an admin retry)
    puts it in line. The score NaN * 2^32 + seq made ZADD fail after the job had left its set: the script
    stopped there and the job was in no state at all, never to run."""
    q = JobQueue(r, "jobs", lease_seconds=30)
    q.add("j", {}, job_id="x", attempts=3, **({"delay": 60} if path == "promote" else {}))
    r.hset(q.keys.jobs, "x", NAN_RECORD)
    if path == "promote":
        r.zadd(q.keys.delayed, {"x": 0})  # due now
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
    assert [job_id for job_id, *_ in q.claim(1)[0]] == ["x"], q.get_job_counts()
