"""A job's JSON, built the fast way (issue 14: one-by-one enqueue), is byte for byte what json.dumps writes.

`Job.to_json` assembles the record field by field with one shared C encoder for the data, instead
of encoding a dict with `json.dumps` and its options (which builds an encoder per call).
"""

from __future__ import annotations

import json
import math
import threading
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labqueue.errors import InvalidJob
from labqueue.job import Job, new_job

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10)
numbers = st.integers() | st.floats() | st.booleans() | st.none() | st.text(max_size=3)


def slow_json(job: Job) -> str:
    """The record as json.dumps wrote it before (the reference)."""
    record: dict[str, Any] = {"id": job.id, "type": job.type, "data": job.data,
                              "max_attempts": job.max_attempts, "enqueued_at": job.enqueued_at}
    if job.priority is not None:
        record["priority"] = job.priority
    if job.run_at is not None:
        record["run_at"] = job.run_at
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def outcome(write: Any) -> tuple[str, Any]:
    try:
        return "json", write()
    except (TypeError, ValueError) as exc:
        return "refused", type(exc)


@settings(max_examples=400, deadline=None)
@given(job_id=st.text(max_size=6) | st.integers(), job_type=st.text(max_size=6), data=json_values,
       max_attempts=numbers, enqueued_at=numbers, priority=numbers, run_at=numbers)
def test_to_json_is_byte_for_byte_json_dumps(job_id: Any, job_type: str, data: Any, max_attempts: Any,
                                             enqueued_at: Any, priority: Any, run_at: Any) -> None:
    """Any field values (even ones new_job would refuse): the same text, or both refuse with the same error."""
    job = Job(id=job_id, type=job_type, data={"v": data}, max_attempts=max_attempts, enqueued_at=enqueued_at,
              priority=priority, run_at=run_at)
    assert outcome(job.to_json) == outcome(lambda: slow_json(job))


@pytest.mark.parametrize("data", [{"i": 1}, {"text": "héllo ✓ \u2028 \"q\" \\ \n"}, {"f": 0.1, "big": 10**30},
                                  {"nested": {"a": [1, 2.5, None, True, {"b": "c"}]}}, {1: "int key", "x": -0.0}])
def test_new_job_raw_is_what_json_dumps_writes_and_parses_back(data: dict[Any, Any]) -> None:
    job = new_job(data, priority=3, run_at=1700000000.25)
    assert job.raw == slow_json(job)
    back = Job.from_json(job.raw)
    assert back.data == json.loads(json.dumps(data)) and (back.id, back.enqueued_at, back.run_at) == \
        (job.id, job.enqueued_at, job.run_at)


def test_generated_ids_are_128_random_bits_in_hex() -> None:
    ids = {new_job({}).id for _ in range(2000)}
    assert len(ids) == 2000 and all(re.fullmatch("[0-9a-f]{32}", job_id) for job_id in ids)


def test_threads_encoding_the_same_data_at_once_never_see_a_cycle() -> None:
    """The shared encoder keeps no circular-reference markers: threads enqueuing one shared dict all succeed."""
    shared = {"items": [{"k": i, "v": [i] * 50} for i in range(200)]}
    errors: list[BaseException] = []

    def build() -> None:
        try:
            for _ in range(200):
                new_job(shared)
        except BaseException as exc:  # noqa: BLE001 - the test reports any
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_cycles_and_depth_are_invalid_jobs_and_nan_still_refused() -> None:
    data: dict[str, Any] = {}
    data["me"] = data
    with pytest.raises(InvalidJob, match="contains itself"):
        new_job(data)
    with pytest.raises(InvalidJob, match="not JSON-serialisable"):
        new_job({"x": math.inf})
    with pytest.raises(InvalidJob, match="max_attempts must be an integer >= 1, got True"):
        new_job({}, max_attempts=True)
