"""PriorityQueue: lower number first, FIFO among equal priorities, data atomic with its entry."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labqueue import InvalidJob, PriorityQueue, scripts
from labqueue.jobqueue import JobQueue
from labqueue.priority_score import LEVEL, MAX_PRIORITY, MAX_SEQUENCE, score


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(priorities=st.lists(st.integers(min_value=0, max_value=MAX_PRIORITY) | st.sampled_from([1, 5, 10]), max_size=40))
def test_order_is_priority_then_arrival(make_client, priorities):
    """Dequeue order is sorted by priority, and by enqueue order within a priority (property)."""
    r = make_client()
    q = PriorityQueue(r, "prop")
    q.clear()
    for i, p in enumerate(priorities):
        q.enqueue({"i": i}, priority=p)
    out = []
    while (job := q.dequeue()) is not None:
        out.append((job.priority, job.data["i"]))
    assert out == sorted((p, i) for i, p in enumerate(priorities))


def test_chapter_priorities(rd):
    """HIGH (1) before NORMAL (5) before LOW (10), with bytes and str clients."""
    q = PriorityQueue(rd)
    q.enqueue({"n": "low"}, priority=q.PRIORITY_LOW)
    q.enqueue({"n": "normal"})
    q.enqueue({"n": "high"}, priority=q.PRIORITY_HIGH)
    assert [j.data["n"] for j in q.peek(3)] == ["high", "normal", "low"]
    assert [q.dequeue(timeout=0.5).data["n"] for _ in range(3)] == ["high", "normal", "low"]


def test_blocking_dequeue_wakes(r, make_client):
    """A blocked dequeue (BZPOPMIN) returns a job enqueued by another client."""
    q = PriorityQueue(r, "b")
    got = []
    t = threading.Thread(target=lambda: got.append(q.dequeue(timeout=5)))
    t.start()
    PriorityQueue(make_client(), "b").enqueue({"x": 1}, priority=3)
    t.join(6)
    assert got[0] is not None and got[0].priority == 3


def test_no_ttl_job_data_is_the_member(r):
    """A waiting job has no separate data key and no TTL: nothing can expire under it."""
    q = PriorityQueue(r, "ttl")
    q.enqueue({"x": 1})
    assert r.keys("*data*") == [] and r.ttl(q.keys.priority) == -1


def test_enqueue_many_and_peek(r):
    """enqueue_many keeps arrival order within one priority; peek does not remove."""
    q = PriorityQueue(r, "many")
    ids = q.enqueue_many(({"i": i} for i in range(5)), priority=2)
    assert [j.id for j in q.peek(10)] == ids and q.size() == 5


@pytest.mark.parametrize("bad", [-1, MAX_PRIORITY + 1, 1.5, "1", True])
def test_bad_priority(bad):
    """A priority outside 0..2**21 - 1 or not an int is refused, the error naming the limit; nothing written."""
    r = fakeredis.FakeRedis()
    with pytest.raises(InvalidJob, match=r"priority must be an integer from 0 \(first\) to 2097151 \(2\*\*21 - 1"):
        PriorityQueue(r, "bad").enqueue({"x": 1}, priority=bad)
    assert r.dbsize() == 0


def test_the_score_scheme_is_exact_up_to_its_limits():
    """priority * 2**32 + sequence: the highest valid score is 2**53 - 1, exact in a double; one priority
    more (2**21, refused) and two arrivals would share a score (doubles step by 2 there: FIFO lost)."""
    assert MAX_PRIORITY == 2**21 - 1 and LEVEL == 2**32 and MAX_SEQUENCE == 2**32 - 1
    assert score(MAX_PRIORITY, MAX_SEQUENCE) == 2**53 - 1 == float(score(MAX_PRIORITY, MAX_SEQUENCE))
    assert float(score(MAX_PRIORITY, MAX_SEQUENCE - 1)) < float(score(MAX_PRIORITY, MAX_SEQUENCE))
    assert float(score(MAX_PRIORITY + 1, 0)) == float(score(MAX_PRIORITY + 1, 1))  # why 2**21 is refused
    assert score(1, MAX_SEQUENCE) < score(2, 0)  # a level's scores stay below the next level's


def test_python_and_lua_compute_one_score(r):
    """labqueue.priority_score and priority_score.lua (the include of priority_push, replay and jq_lib) agree,
    up to the top of the range."""
    lua = scripts.source("priority_score")
    assert f"local PRIORITY_LEVEL = {LEVEL}  --" in lua
    run = lua + "\nreturn string.format('%.0f', priority_score(tonumber(ARGV[1]), tonumber(ARGV[2])))"
    for priority, seq in [(0, 1), (5, 2), (MAX_PRIORITY, 1), (MAX_PRIORITY, MAX_SEQUENCE)]:
        assert int(r.eval(run, 0, priority, seq)) == score(priority, seq)
    for name in ("priority_push", "replay", "jq_lib"):
        assert "--- @include priority_score" in (Path(scripts.__file__).parent / f"{name}.lua").read_text()
        assert "1e11" not in scripts.source(name) and "4294967296" not in scripts.source(name).replace(lua, "")


def test_top_priority_keeps_exact_scores_and_fifo_at_the_end_of_the_sequence(r):
    """PriorityQueue at priority 2**21 - 1 with its arrival counter near 2**32: the stored scores are exactly
    priority * 2**32 + sequence (near 2**53), all distinct, and the jobs come out in arrival order. Fails
    on the old scheme (priority * 1e11 + sequence), which refused any priority above 10,000."""
    q = PriorityQueue(r, "top")
    r.set(q.keys.seq, MAX_SEQUENCE - 4)
    ids = [q.enqueue({"i": i}, priority=MAX_PRIORITY) for i in range(3)]
    ahead = q.enqueue({"i": 3}, priority=MAX_PRIORITY - 1)  # the last sequence number, one level up
    scores = [s for _, s in r.zrange(q.keys.priority, 0, -1, withscores=True)]
    assert scores == [score(MAX_PRIORITY - 1, MAX_SEQUENCE)] + [score(MAX_PRIORITY, MAX_SEQUENCE - 4 + n)
                                                                 for n in (1, 2, 3)]
    assert len(set(scores)) == 4 and scores[0] < scores[1] and scores[-1] == 2**53 - 2
    assert [j.id for j in iter(q.dequeue, None)] == [ahead, *ids]


def test_both_queues_store_the_same_score(r):
    """One scheme: a PriorityQueue job and a JobQueue job of one priority and sequence number score the same."""
    pq = PriorityQueue(r, "pq")
    jq = JobQueue(r, "jq")
    pq.enqueue({"x": 1}, priority=7)
    job_id = jq.add("j", {}, priority=7)
    assert r.zrange(pq.keys.priority, 0, -1, withscores=True)[0][1] == score(7, 1)
    assert r.zscore(jq.keys.prio, job_id) == score(7, 1)


def test_replay_keeps_priority(r):
    """A dead-lettered job replays into the sorted set with its own priority."""
    q = PriorityQueue(r, "dlq")
    q.enqueue({"n": "a"}, priority=7)
    job = q.dequeue()
    q.nack(job, "failed")
    q.enqueue({"n": "b"}, priority=9)
    assert q.replay_dead() == 1
    assert [j.data["n"] for j in q.peek()] == ["a", "b"]


@pytest.mark.parametrize("timeout", [0, 5])
def test_an_entry_that_is_no_job_is_dead_lettered_and_the_next_job_returned(r, timeout):
    """dequeue() dead-letters an entry that is no job and takes the next one, as SimpleQueue does: it
    returned None with a job still waiting (a burst worker stopped there, a drain loop ended early)."""
    q = PriorityQueue(r, "junk")
    r.zadd(q.keys.priority, {"not a job": 0})
    good = q.enqueue({"n": 1}, priority=5)
    job = q.dequeue(timeout=timeout)
    assert job is not None and job.id == good
    assert q.dlq_size() == 1 and q.size() == 0


def test_a_burst_worker_runs_the_jobs_behind_an_entry_that_is_no_job(r):
    """A burst worker does not stop at a junk entry while jobs wait behind it."""
    from labqueue import Worker

    q = PriorityQueue(r, "junk-burst")
    q.enqueue({"n": 0}, priority=1, type="t")
    r.zadd(q.keys.priority, {'{"id":"x","type":"t"}': score(2, 0)})  # no data: not a job
    q.enqueue({"n": 1}, priority=3, type="t")
    done = []
    worker = Worker(q, {"t": lambda job: done.append(job.data["n"])}, burst=True, poll_seconds=0.05).run()
    assert done == [0, 1] and worker.stats["errors"] == 0
    assert q.size() == 0 and q.dlq_size() == 1


@pytest.mark.parametrize("priority", ["NaN", "-NaN", "Infinity", "1e400", '"high"'])
def test_a_dead_letter_whose_priority_is_no_finite_number_stays_and_the_others_replay(r, priority):
    """Replaying everything puts the jobs back and leaves a dead letter whose priority is no finite number
    where it is (it is no job: Job.from_json refuses it). A NaN priority made the score 'nan': ZADD failed
    after the dead letter was deleted, so it vanished, and the replay stopped half-way with an error."""
    q = PriorityQueue(r, "replay-junk")
    raw = '{"id":"bad","type":"t","data":{},"priority":%s}' % priority
    r.hset(q.keys.dlq, "invalid:1", raw)
    r.hset(q.keys.dlq_meta, "invalid:1", '{"reason":"job field priority must be a finite number"}')
    q.enqueue({"n": 1}, priority=4)
    q.nack(q.dequeue(), "failed")
    assert q.replay_dead() == 1
    assert [j.data["n"] for j in q.peek()] == [1]
    assert r.hget(q.keys.dlq, "invalid:1") == raw and q.dlq_size() == 1


def in_band(scores: dict[str, float], priorities: dict[str, int]) -> None:
    """Every score is an exact integer inside its own priority's band [priority * 2**32, (priority + 1) * 2**32)."""
    for job_id, s in scores.items():
        assert s == int(s) and priorities[job_id] * LEVEL <= int(s) < (priorities[job_id] + 1) * LEVEL, (job_id, s)


def test_the_sequence_wraps_modulo_2_32_and_keeps_every_score_in_its_band(r):
    """The arrival counter past 2**32 (set by hand, as 4.29 billion adds would): the old score priority * 2**32
    + counter bled into the next priority (a priority-3 job scored 4 * 2**32 + 2, after a priority-4 job of
    score 4 * 2**32 + 1) and past 2**53 lost precision. The sequence is the counter modulo 2**32, as BullMQ's:
    scores stay exact and in their band, priorities keep their order, and FIFO within a priority is inverted
    once, at the wrap (the jobs numbered from 0 again come before the last ones numbered below 2**32)."""
    q = PriorityQueue(r, "wrap")
    d = q.enqueue({"n": "d"}, priority=4)  # sequence 1
    r.set(q.keys.seq, LEVEL - 2)
    a1 = q.enqueue({"n": "a1"}, priority=5)  # 2**32 - 1: the last sequence of the cycle
    a2 = q.enqueue({"n": "a2"}, priority=5)  # 2**32: sequence 0
    a3 = q.enqueue({"n": "a3"}, priority=5)  # sequence 1
    b = q.enqueue({"n": "b"}, priority=3)  # sequence 2
    top = q.enqueue({"n": "top"}, priority=MAX_PRIORITY)  # sequence 3: 2**53 - 2**32 + 3, exact
    assert int(r.get(q.keys.seq)) == LEVEL + 3, "the counter itself goes on (INCR); the score takes it modulo 2**32"
    scores = {json.loads(raw)["id"]: s for raw, s in r.zrange(q.keys.priority, 0, -1, withscores=True)}
    assert scores == {b: score(3, 2), d: score(4, 1), a2: score(5, 0), a3: score(5, 1), a1: score(5, MAX_SEQUENCE),
                      top: (MAX_PRIORITY << 32) + 3}
    in_band(scores, {b: 3, d: 4, a1: 5, a2: 5, a3: 5, top: MAX_PRIORITY})
    assert [j.id for j in iter(q.dequeue, None)] == [b, d, a2, a3, a1, top]


def test_python_and_lua_wrap_the_sequence_alike(r):
    """score() and priority_score.lua take the sequence modulo 2**32, up to INCR's largest counter."""
    run = scripts.source("priority_score") + "\nreturn string.format('%.0f', priority_score(ARGV[1], ARGV[2]))"
    for priority, seq in [(5, LEVEL), (5, LEVEL + 7), (3, 5 * LEVEL - 1), (MAX_PRIORITY, LEVEL + 1), (1, 2**53)]:
        assert int(r.eval(run, 0, priority, seq)) == score(priority, seq) == priority * LEVEL + seq % LEVEL


def test_the_jobqueue_sequence_wraps_and_releases_stay_in_their_band(r):
    """JobQueue's `pseq` past 2**32 (HSET by hand): adds, and jobs released or stalled back first in line
    (jq_lib.lua's ready()), score inside their own priority's band, exact, in the order priority_score
    promises; the old code scored a priority-3 job after a priority-4 one once the counter passed 2**32."""
    q = JobQueue(r, "wrap", lease_seconds=30.0)
    d = q.add("j", {}, priority=4)  # pseq 1
    r.hset(q.keys.meta, "pseq", LEVEL - 2)
    a1, a2, a3 = (q.add("j", {}, priority=5) for _ in range(3))  # sequences 2**32 - 1, 0, 1
    b = q.add("j", {}, priority=3)  # sequence 2
    top = q.add("j", {}, priority=MAX_PRIORITY)
    priorities = {b: 3, d: 4, a1: 5, a2: 5, a3: 5, top: MAX_PRIORITY}
    order = [b, d, a2, a3, a1, top]
    assert [j.id for j in q.get_jobs("waiting")] == order
    in_band(dict(r.zrange(q.keys.prio, 0, -1, withscores=True)), priorities)
    taken = q.claim(4)[0]
    assert [job_id for job_id, *_ in taken] == order[:4]
    for job_id, _, token, _ in reversed(taken):  # as a stopping worker hands its batch back: last first
        assert q._run("release", job_id, token) == [3]
    in_band(dict(r.zrange(q.keys.prio, 0, -1, withscores=True)), priorities)
    assert [job_id for job_id, *_ in q.claim(10)[0]] == order


def test_a_counter_holding_junk_restarts_and_loses_no_job(r):
    """A priority counter holding no integer (or at INCR's limit): PriorityQueue.enqueue and replay_dead raised
    Redis's 'value is not an integer or out of range' (nothing written, but no job could be added or replayed
    until someone fixed the key). The counter restarts at 1, as the JobQueue's pseq always did; every job is
    queued, in its priority's band."""
    q = PriorityQueue(r, "junk")
    q.enqueue({"n": "dead"}, priority=2)
    q.nack(q.dequeue(), "failed")
    for junk in ("abc", str(2**63 - 1)):
        r.set(q.keys.seq, junk)
        first = q.enqueue({"n": junk}, priority=7)
        assert r.get(q.keys.seq) == "1"
        assert [j.id for j in q.peek()] == [first]
        assert q.dequeue().id == first
    r.set(q.keys.seq, "abc")
    assert q.replay_dead() == 1 and q.dlq_size() == 0
    assert [j.data["n"] for j in iter(q.dequeue, None)] == ["dead"]
    r.delete(q.keys.seq)
    r.rpush(q.keys.seq, "not a counter")  # another type: an error, the key never overwritten
    with pytest.raises(Exception, match="WRONGTYPE"):
        q.enqueue({"n": "refused"}, priority=7)
    assert r.lrange(q.keys.seq, 0, -1) == ["not a counter"] and q.size() == 0
    jq = JobQueue(r, "junk")
    r.hset(jq.keys.meta, "pseq", "abc")
    job_id = jq.add("j", {}, priority=7)
    assert r.zscore(jq.keys.prio, job_id) == score(7, 1) and r.hget(jq.keys.meta, "pseq") == "1"
