"""The job record: a dataclass serialised as compact JSON (never pickle).

A job's delivery count is not part of its JSON: the reliable queue keeps it in a hash, so a job's
serialised form never changes while it moves between lists and can always be found again by value.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from .checks import integer
from .errors import InvalidJob, PayloadTooLarge

DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000
DEFAULT_MAX_ATTEMPTS = 3
ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)  # built once: enqueue is hot
_encode = ENCODER.encode
# The C encoder behind it, built once too (ENCODER.encode builds one per call) and shared by every thread:
# so without the circular-reference markers (a shared dict would see two threads encoding the same object
# as a cycle); a cycle then ends in RecursionError, as data nested too deeply does, and new_job says so.
_c_encoder = (json.encoder.c_make_encoder(None, ENCODER.default, encode_basestring, None, ":", ",", False, False,
                                          False) if json.encoder.c_make_encoder is not None else None)


def _encode_data(data: Any) -> str:
    """A job's data as JSON (what ENCODER writes), through the shared C encoder where there is one."""
    return "".join(_c_encoder(data, 0)) if _c_encoder is not None else _encode(data)


def _json_string(value: Any) -> str:
    """A str as the encoder writes it (non-ASCII kept); anything else through the encoder."""
    return encode_basestring(value) if type(value) is str else _encode(value)


def _json_number(value: Any) -> str:
    """An int or a finite float as the encoder writes it (its repr); anything else through the encoder."""
    kind = type(value)
    if kind is int or kind is float and math.isfinite(value):
        return repr(value)
    return _encode(value)  # NaN, infinities (ValueError), bools, subclasses, non-numbers: the encoder decides


@dataclass
class Job:
    """One unit of work. `data` is any JSON object; `type` picks the handler."""

    id: str
    type: str
    data: dict[str, Any]
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    enqueued_at: float = field(default_factory=time.time)
    priority: int | None = None
    run_at: float | None = None
    attempts: int = 0  # deliveries so far, filled in by the queue that delivered the job
    raw: str = field(default="", repr=False, compare=False)  # exact JSON read from Redis
    token: str = field(default="", compare=False)  # this delivery's token (reliable queue): ack/nack show it

    def __getitem__(self, key: str) -> Any:
        """Dictionary-style access (`job['id']`, `job['data']`), as the chapter's code reads jobs."""
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def to_json(self) -> str:
        """Compact JSON of the job, without the delivery count: the object {id, type, data, max_attempts,
        enqueued_at[, priority][, run_at]}, byte for byte what `json.dumps(record, separators=(",", ":"),
        ensure_ascii=False, allow_nan=False)` writes, assembled field by field (about twice as fast:
        `enqueue` pays it on every job). TypeError or ValueError for what JSON cannot hold."""
        extra = ""
        if self.priority is not None:
            extra = f',"priority":{_json_number(self.priority)}'
        if self.run_at is not None:
            extra += f',"run_at":{_json_number(self.run_at)}'
        return (f'{{"id":{_json_string(self.id)},"type":{_json_string(self.type)},"data":{_encode_data(self.data)},'
                f'"max_attempts":{_json_number(self.max_attempts)},'
                f'"enqueued_at":{_json_number(self.enqueued_at)}{extra}}}')

    @classmethod
    def from_json(cls, raw: str | bytes, attempts: int = 0) -> Job:
        """Parse a serialised job; raise InvalidJob naming what is wrong with it (and nothing else)."""
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            raise InvalidJob(f"job entry is not valid UTF-8 ({exc.reason} at byte {exc.start}): "
                             f"{raw[:80]!r}") from None
        try:
            record = json.loads(text)
        except RecursionError:
            raise InvalidJob(f"job entry is nested too deeply to parse: {text[:80]!r}") from None
        except ValueError as exc:
            raise InvalidJob(f"job entry is not valid JSON ({exc}): {text[:80]!r}") from None
        if not isinstance(record, dict):
            raise InvalidJob(f"job entry is JSON but not an object: {text[:80]!r}")
        for name, kind in (("id", str), ("type", str), ("data", dict)):
            if name not in record:
                raise InvalidJob(f"job entry is missing field {name!r}: {text[:80]!r}")
            if not isinstance(record[name], kind):
                raise InvalidJob(f"job field {name!r} must be {kind.__name__}: {text[:80]!r}")
        if record["id"] == "":  # no delivery token ('<n>:<id>') could name it: it could never be acked
            raise InvalidJob(f"job field 'id' must not be empty: {text[:80]!r}")
        max_attempts = record.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
        if isinstance(max_attempts, float) and max_attempts.is_integer():
            max_attempts = int(max_attempts)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidJob(f"job field 'max_attempts' must be an integer >= 1, got {max_attempts!r}: {text[:80]!r}")
        numbers = {}
        for name in ("enqueued_at", "run_at", "priority"):
            value = record.get(name)
            if name == "enqueued_at" and value is None:
                value = 0.0
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise InvalidJob(f"job field {name!r} must be a finite number, got {value!r}: {text[:80]!r}")
            numbers[name] = value
        return cls(id=record["id"], type=record["type"], data=record["data"], max_attempts=max_attempts,
                   enqueued_at=float(numbers["enqueued_at"]), priority=numbers["priority"],
                   run_at=numbers["run_at"], attempts=attempts, raw=text)


def new_job(data: Any, *, type: str | None = None, job_id: str | None = None,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS, priority: int | None = None,
            run_at: float | None = None,
            max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Job:
    """Validate the caller's input and build a job with its JSON in `raw`; raise InvalidJob if bad."""
    if not isinstance(data, dict):
        raise InvalidJob(f"job data must be a dict (a JSON object), got {builtin_type(data).__name__}")
    job_type = type if type is not None else data.get("type", "default")
    if not isinstance(job_type, str) or not job_type:
        raise InvalidJob(f"job type must be a non-empty string, got {job_type!r}")
    if job_id is not None and (not isinstance(job_id, str) or not job_id):
        raise InvalidJob(f"job id must be a non-empty string, got {job_id!r}")
    if max_attempts.__class__ is not int or max_attempts < 1:  # the common case checked at no cost
        max_attempts = integer("max_attempts", max_attempts, low=1, error=InvalidJob)  # its int, as JSON holds it
    # 128 random bits as 32 hex digits, as uuid4().hex but 4x cheaper: enqueue's hot path
    job = Job(id=job_id or os.urandom(16).hex(), type=job_type, data=data, max_attempts=max_attempts,
              priority=priority, run_at=run_at)
    try:
        raw = job.to_json()
    except (TypeError, ValueError) as exc:
        raise InvalidJob(f"job data is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise InvalidJob("job data is not JSON-serialisable: it contains itself (a circular reference) or is "
                         "nested too deeply") from None
    size = utf8_size(raw, lambda: _holder(job))
    if size > max_payload_bytes:
        raise PayloadTooLarge(
            f"job payload is {size:,} bytes, over the limit of {max_payload_bytes:,} bytes "
            "(max_payload_bytes): store the data elsewhere and enqueue a reference to it")
    job.raw = raw
    return job


builtin_type = type


def utf8_size(text: str, what: str | Callable[[], str]) -> int:
    """The bytes `text` takes in UTF-8 (ASCII: one a character). A lone surrogate (U+D800-U+DFFF) has no
    UTF-8 encoding, redis-py would fail mid-write: InvalidJob naming `what` (called only then) and it."""
    try:
        return len(text) if text.isascii() else len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        name = what if isinstance(what, str) else what()
        raise InvalidJob(f"{name} is not valid Unicode: it holds {exc.object[exc.start:exc.end]!r}, a lone surrogate, "
                         "which has no UTF-8 encoding (text decoded with errors='surrogateescape'?)") from None


def _holder(job: Job) -> str:
    """Which of the job's strings holds the lone surrogate: its id, its type, else its data."""
    for name in ("id", "type"):
        try:
            getattr(job, name).encode("utf-8")
        except UnicodeEncodeError:
            return f"job {name}"
    return "job data"


def require_job(job: Any, operation: str) -> None:
    """Refuse None (a dequeue that timed out) or anything but a Job or a job id, in one sentence."""
    if job is None:
        raise TypeError(f"{operation}(None): there is no job to {operation}. dequeue() returns None when no "
                        f"job arrived before its timeout; check `if job is not None` before calling {operation}.")
    if not isinstance(job, (Job, str)) or isinstance(job, str) and not job:
        raise TypeError(f"{operation}() takes a Job (as dequeue() returns it) or a job id, got {job!r}")
