"""The production queue's keys, job options and job records (the data model of `JobQueue`).

A job is stored once, as compact JSON in the hash `jobs` (id -> {"name", "data", "ts", "opts"}),
and never rewritten: its state is which structure holds its id (`wait` list, `prio`, `delayed`,
`active`, `completed`, `failed` sorted sets); what changes while it runs (deliveries, failures,
stalls, progress, return value, last error) lives in one small hash per field, keyed by job id.
Generated ids are short integers (HINCRBY), so a waiting job costs one hash entry plus a few bytes
in a list. Times are unix seconds, durations seconds (Bull counts milliseconds).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import cron, scripts
from .checks import integer, number
from .errors import ConfigError, InvalidJob
from .job import _encode, _encode_data, _json_string, utf8_size
from .keys import Keys, QueueKey
from .priority_score import MAX_PRIORITY, WHY
from .retry import Backoff

STATES = ("waiting", "active", "delayed", "completed", "failed", "paused")
OPTIONS = ("priority", "delay", "attempts", "backoff", "repeat", "remove_on_complete",
           "remove_on_fail", "job_id", "timeout")
MAX_ATTEMPTS = 2**53 - 1  # the scripts read a number as a double: exact up to here, no junk past it
ALIASES = {"removeOnComplete": "remove_on_complete", "removeOnFail": "remove_on_fail",
           "jobId": "job_id"}  # the chapter's (Bull's) spelling is accepted too


def _jq(suffix: str, kind: str, doc: str) -> QueueKey:
    return QueueKey(f"jq:{suffix}", kind, doc)


class JobQueueKeys(Keys):
    """The keys of one `JobQueue`: `lq:{name}:jq:...`, all in the queue's hash slot, each with the Redis type
    stored there (quarantine moves a key holding another type aside; jq_lib.lua's wrong_type checks it)."""

    jobs = _jq("jobs", "hash", "Hash: job id -> the job's JSON {name, data, ts, opts}, written once.")
    wait = _jq("wait", "list", "List of the ids of ready jobs without a priority (LPUSH, RPOP).")
    prio = _jq("prio", "zset", "Sorted set: ready job id -> priority * 2^32 + sequence (labqueue.priority_score).")
    delayed = _jq("delayed", "zset", "Sorted set: job id -> when it is due (a delay, a retry's backoff, a repeat).")
    active = _jq("active", "zset", "Sorted set: job id -> its lease deadline.")
    completed = _jq("completed", "zset", "Sorted set: job id -> when it completed.")
    failed = _jq("failed", "zset", "Sorted set: job id -> when it failed for good.")
    runs = _jq("runs", "hash", "Hash: job id -> its current delivery's token (never repeated: meta's counter).")
    made = _jq("made", "hash", "Hash: job id -> failed attempts.")
    stalls = _jq("stalls", "hash", "Hash: job id -> times its lease expired.")
    progress = _jq("progress", "hash", "Hash: job id -> progress 0-100.")
    results = _jq("results", "hash", "Hash: job id -> return value (JSON).")
    errors = _jq("errors", "hash", "Hash: job id -> last error.")
    meta = _jq("meta", "hash", "Hash: the id counter (id), the delivery token counter (token), "
                                "the priority sequence (pseq), the paused flag.")
    marker = _jq("marker", "list", "List of tokens that wake idle workers (BRPOP), at most 64.")
    events = _jq("events", "stream", "Stream of the queue's events (QueueEvents).")
    limiter = _jq("limiter", "zset", "Sorted set: recent deliveries -> when (the rate limiter's log).")
    repeat = _jq("repeat", "hash", "Hash: repeatable job key -> id of its pending occurrence.")
    repeat_copy = _jq("repeat:copy", "hash", "Hash: `repeat` again, written and removed with it: a schedule goes on "
                      "while either names it, so one of them moved aside (junk) neither ends nor revives one.")
    metrics = _jq("metrics", "hash", "Hash: counters and duration histograms (QueueMetrics).")

    def for_script(self, script: str) -> list[str]:
        """The KEYS of jq_`script`.lua (`add`, `claim`...): only those it uses, in the order it names them."""
        return [getattr(self, LUA_NAMES.get(n, n)) for n in scripts.key_names(f"jq_{script}")]


ALL_KEYS = tuple(name for name, v in vars(JobQueueKeys).items() if isinstance(v, QueueKey))  # JobQueueKeys.all()
LUA_NAMES = {"repeats": "repeat"}  # `repeat` is a keyword in Lua: the scripts call that key `repeats`


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    return integer(f"option {name!r}", value, low=low, high=high, error=InvalidJob)


def _priority(value: Any) -> int:
    try:
        return _int("priority", value, 0, MAX_PRIORITY)
    except InvalidJob as exc:  # 2**21 and above: the scores would not be exact (ties, FIFO lost)
        raise InvalidJob(f"{exc} (0 = none; at most 2**21 - 1: {WHY})") from None


def _seconds(name: str, value: Any, positive: bool = False) -> float:
    # a timeout is waited for by Thread.join: beyond threading.TIMEOUT_MAX (about 292 years) it raises
    high = threading.TIMEOUT_MAX if name == "timeout" else None
    return number(f"option {name!r} (seconds)", value, above=positive, high=high, error=InvalidJob)


def _keep(name: str, value: Any) -> bool | int:
    if isinstance(value, bool):
        return value
    return _int(name, value, 0)


def _repeat(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not (("cron" in value) ^ ("every" in value)):
        raise InvalidJob(f"option 'repeat' must be {{'cron': expr, 'tz': zone}} or {{'every': seconds}}, "
                         f"got {value!r}")
    unknown = set(value) - {"cron", "tz", "every"}
    if unknown:
        raise InvalidJob(f"unknown repeat option(s) {sorted(unknown)}: use 'cron' and 'tz', or 'every'")
    if "every" in value:
        return {"every": _seconds("repeat.every", value["every"], positive=True)}
    tz = value.get("tz", "UTC")
    try:
        cron.validate(value["cron"], tz)
    except ConfigError as exc:
        raise InvalidJob(f"option 'repeat': {exc}") from None
    return {"cron": value["cron"], "tz": tz}


def normalise(opts: dict[str, Any]) -> dict[str, Any]:
    """Validated options with defaults dropped; InvalidJob naming the first bad one."""
    out: dict[str, Any] = {}
    for raw_name, value in opts.items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in OPTIONS:
            raise InvalidJob(f"unknown job option {raw_name!r}: use one of {', '.join(OPTIONS)}")
        if value is None:
            continue
        if name == "priority":
            value = _priority(value)
        elif name == "attempts":  # past 2**53 the scripts' doubles cannot count them (jq_lib.lua's attempts_of)
            value = _int(name, value, 1, MAX_ATTEMPTS)
        elif name in ("delay", "timeout"):
            value = _seconds(name, value, positive=name == "timeout")
        elif name == "backoff":
            try:
                b = Backoff.from_spec(value)
            except ConfigError as exc:
                raise InvalidJob(f"option 'backoff': {exc}") from None
            value = b.spec()
        elif name == "repeat":
            value = _repeat(value)
        elif name in ("remove_on_complete", "remove_on_fail"):
            value = _keep(name, value)
        elif name == "job_id":
            if not isinstance(value, str) or not value or value.isdigit():
                raise InvalidJob(f"option 'job_id' must be a non-empty string that is not all digits "
                                 f"(digits are the generated ids), got {value!r}")
            utf8_size(value, "option 'job_id'")
        out[name] = value
    return out


def next_occurrence(repeat: dict[str, Any], after: float) -> float:
    """When a repeatable job runs next after unix time `after` (cron.next_run, or after + every)."""
    if "every" in repeat:
        return (math.floor(after / repeat["every"]) + 1) * repeat["every"]
    return cron.next_run(repeat["cron"], repeat.get("tz", "UTC"), after)


def repeat_key(name: str, repeat: dict[str, Any], job_id: str | None) -> str:
    """The stable key of a repeatable job: its job id, else a digest of its name and schedule."""
    if job_id:
        return job_id
    spec = json.dumps([name, repeat], sort_keys=True)
    return hashlib.sha1(spec.encode()).hexdigest()[:16]


def plan(name: str, data: Any, opts: dict[str, Any], *, now: float | None = None,
         max_payload_bytes: int = 1_000_000, occurrence: float | None = None,
         key: str | None = None) -> list[Any]:
    """Validate a job and serialise it; nothing is written. InvalidJob naming what is wrong.

    For a repeatable job, `occurrence` and `key` name the next run of an existing schedule.
    """
    return planned(name, data, normalise(opts) if opts else {}, now=now, max_payload_bytes=max_payload_bytes,
                   occurrence=occurrence, key=key)


def planned(name: str, data: Any, o: dict[str, Any], *, now: float | None = None,
            max_payload_bytes: int = 1_000_000, occurrence: float | None = None,
            key: str | None = None) -> list[Any]:
    """`plan` for options `o` already normalised: the job's 5 arguments of jq_add.lua, [id ('' = generate),
    JSON, priority, when (a delay in s; a repeatable job's occurrence, unix s), repeat ('', or 'first:' or
    'next:' and its key)]. The JSON is what json.dumps(record, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False) writes, assembled field by field as Job.to_json does (add is hot)."""
    if not isinstance(name, str) or not name:
        raise InvalidJob(f"job name must be a non-empty string, got {name!r}")
    if not isinstance(data, dict):
        raise InvalidJob(f"job data must be a dict (a JSON object), got {type(data).__name__}")
    now = time.time() if now is None else now
    stored = {k: v for k, v in o.items() if k != "delay" and k != "job_id"} if o else None
    try:
        raw = f'{{"name":{_json_string(name)},"data":{_encode_data(data)},"ts":{round(now * 1000)}'
        raw += f',"opts":{_encode(stored)}}}' if stored else "}"
    except (TypeError, ValueError) as exc:
        raise InvalidJob(f"job data is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise InvalidJob("job data is not JSON-serialisable: it contains itself (a circular reference) or is "
                         "nested too deeply") from None
    size = utf8_size(raw, "job name or data")
    if size > max_payload_bytes:
        raise InvalidJob(f"job is {size:,} bytes, over max_payload_bytes "
                         f"({max_payload_bytes:,}): enqueue a reference to the data instead")
    if not o:
        return ["", raw, 0, 0, ""]
    priority = o.get("priority", 0)
    if "repeat" in o:
        key = key or repeat_key(name, o["repeat"], o.get("job_id"))
        first = occurrence is None
        at = next_occurrence(o["repeat"], now) if first else float(occurrence)  # type: ignore[arg-type]
        return [f"repeat:{key}:{round(at * 1000)}", raw, priority, repr(at), f"{'first' if first else 'next'}:{key}"]
    return [o.get("job_id", ""), raw, priority, repr(float(o.get("delay", 0.0))), ""]


@dataclass
class JobRecord:
    """A job as read back from Redis (get_job, get_jobs)."""

    id: str
    name: str
    data: dict[str, Any]
    opts: dict[str, Any]
    timestamp: float  # when it was added
    state: str = "unknown"
    attempts_made: int = 0  # failed attempts so far
    stalls: int = 0
    progress: float = 0
    return_value: Any = None
    failed_reason: str | None = None
    finished_on: float | None = None
    raw: str = field(default="", repr=False)

    @classmethod
    def parse(cls, job_id: str, raw: str, **fields: Any) -> JobRecord:
        record = json.loads(raw)
        return cls(id=job_id, name=record["name"], data=record["data"], opts=record.get("opts", {}),
                   timestamp=record.get("ts", 0) / 1000, raw=raw, **fields)
