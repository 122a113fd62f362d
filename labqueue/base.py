"""What every queue shares: its client, its keys, job building and parsing, its dead-letter queue.

Redis structures: the hashes `lq:{name}:dlq` (job id -> the job as it was) and `lq:{name}:dlq:meta`
(job id -> {"reason", "failed_at", "attempts"}).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from . import scripts
from .checks import integer, number
from .errors import ConfigError, InvalidJob, ReplayRefused
from .job import DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_PAYLOAD_BYTES, Job, new_job
from .keys import Keys


def text(value: Any) -> str:
    """A reply as str, whether the client decodes responses or not."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


SCHEDULE_PREFIX = "cron:"  # a cron schedule that cannot run is dead-lettered as cron:<name> (CronQueue),
# or cron:<n>:<name> when a dead letter of that name is already there (cron_bury.lua)


@dataclass(frozen=True)
class ScheduleLetter:
    """A cron schedule's dead letter as stored: its DLQ id and definition, byte for byte, and its reason."""

    key: bytes
    raw: bytes
    reason: str
    name: str  # the schedule's name: its meta's "schedule", else the id after 'cron:' (letters before it)
    failed_at: float


@dataclass
class DeadLetter:
    """One entry of the dead-letter queue."""

    id: str
    reason: str
    failed_at: float
    attempts: int
    raw: str
    job: Job | None  # None when the entry was not a valid job at all


def durable_replicas(durable: bool | int, timeout: float, client: Any) -> int:
    """How many replicas a durable write waits for (0: not durable); a clear error on a bad value."""
    if isinstance(durable, bool):
        n = int(durable)
    elif isinstance(durable, int) and durable >= 0:
        n = durable
    else:
        raise ConfigError(f"durable must be True/False or a number of replicas >= 0, got {durable!r}")
    # WAIT counts whole milliseconds and 0 means "block forever": a timeout under 1 ms is sent as 1 ms
    # (durable_wait_ms); above what WAIT accepts (a signed 64-bit count of ms) it is refused here.
    number("durable_timeout", timeout, above=True, high=MAX_DURABLE_TIMEOUT)
    if n and type(client).__module__.startswith("fakeredis"):
        raise ConfigError("durable=True needs a real Redis with replicas (WAIT); the embedded fakeredis has none")
    return n


MAX_WAIT = threading.TIMEOUT_MAX  # seconds (292 years on 64-bit): a blocking pop's timeout, as high as a
# worker's poll_seconds may be (its dequeue timeout), inside what Redis and fakeredis accept


def check_timeout(timeout: Any) -> float:
    """dequeue's `timeout` as a float: a finite number of seconds >= 0 (0: do not wait); else ConfigError."""
    return number("timeout", timeout, high=MAX_WAIT)


MAX_DURABLE_TIMEOUT = 9e12  # seconds: 9e15 ms, inside the signed 64-bit range WAIT parses


def durable_wait_ms(timeout: float) -> int:
    """WAIT's timeout for `timeout` seconds: whole ms rounded up, never 0 (WAIT 0 blocks forever)."""
    return max(1, math.ceil(timeout * 1000))


class BaseQueue:
    """A named queue on a redis-py client (decode_responses True or False)."""

    def __init__(self, redis_client: Any, queue_name: str = "jobs", *,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
                 durable: bool | int = False, durable_timeout: float = 1.0) -> None:
        self.redis = redis_client
        self.durable = durable_replicas(durable, durable_timeout, redis_client)
        self.durable_timeout = float(durable_timeout)
        self.name = queue_name
        self.keys = Keys(queue_name)
        self.max_attempts = integer("max_attempts", max_attempts, low=1)
        self.max_payload_bytes = integer("max_payload_bytes", max_payload_bytes, low=1)
        self._replay = scripts.load(redis_client, "replay")
        self._read = scripts.load(redis_client, "read_hashes")
        self._bury = scripts.load(redis_client, "bury")
        self._delete_dead = scripts.load(redis_client, "delete_dead")

    def _new_job(self, job_data: Any, *, type: str | None = None, job_id: str | None = None,
                 max_attempts: int | None = None, priority: int | None = None, run_at: float | None = None) -> Job:
        """new_job with this queue's max_attempts (when None) and max_payload_bytes (named arguments, no
        **options: enqueue pays this call on every job)."""
        return new_job(job_data, type=type, job_id=job_id,
                       max_attempts=self.max_attempts if max_attempts is None else max_attempts,
                       priority=priority, run_at=run_at, max_payload_bytes=self.max_payload_bytes)

    # -- producing (queues whose jobs wait in a list; the priority and delayed queues override) --
    def _write(self, send: Callable[[Any], Any]) -> Any:
        """`send(client)` writes a job; with `durable`, on a pipeline followed by WAIT (labqueue.cluster)."""
        if not self.durable:
            return send(self.redis)
        from .cluster import durable_write

        return durable_write(self.redis, self.keys.waiting, send, replicas=self.durable,
                             timeout_ms=durable_wait_ms(self.durable_timeout))[0]

    def enqueue(self, job_data: dict[str, Any], *, type: str | None = None, job_id: str | None = None,
                max_attempts: int | None = None) -> str:
        """Add a job at the head of the waiting list; returns its id (LPUSH; + WAIT when durable)."""
        job = self._new_job(job_data, type=type, job_id=job_id, max_attempts=max_attempts)
        if self.durable:
            self._write(lambda c: c.lpush(self.keys.waiting, job.raw))
        else:  # the plain case without the _write indirection: enqueue is the hot path
            self.redis.lpush(self.keys.waiting, job.raw)
        return job.id

    def enqueue_many(self, jobs: Iterable[dict[str, Any]]) -> list[str]:
        """Add many jobs in one round trip, in order; returns their ids (one LPUSH; + WAIT when durable)."""
        built = [self._new_job(data) for data in jobs]
        if built:
            self._write(lambda c: c.lpush(self.keys.waiting, *(job.raw for job in built)))
        return [job.id for job in built]

    def _target(self) -> tuple[str, str]:
        """Where replayed dead letters go back to: ('list', key) or ('zset', key)."""
        return "list", self.keys.waiting

    # -- dead-letter queue -------------------------------------------------------------------
    def bury(self, job: Job | str | bytes, reason: str, attempts: int | None = None) -> str:
        """Put a job (or an unparseable entry, kept byte for byte) in the dead-letter queue with its reason,
        failed at the server's clock (bury.lua); returns its dead-letter id. A dead letter of the same id
        already there is kept: this one goes under '<n>:<id>' (a producer may reuse a job id)."""
        raw = job.raw or job.to_json() if isinstance(job, Job) else job
        job_id = job.id if isinstance(job, Job) else self._invalid_id()
        n = attempts if attempts is not None else (job.attempts if isinstance(job, Job) else 0)
        return text(self._bury(keys=[self.keys.dlq, self.keys.dlq_meta],
                               args=[job_id, raw, json.dumps(reason), int(n)]))

    def _invalid_id(self) -> str:
        """A dead-letter id for an entry that is no job: 'invalid:<n>' (INCR seq); when the counter holds junk
        of the right type (no integer, or at INCR's limit), 'invalid:<128 random bits>' rather than failing
        the burial of an entry already popped (it would vanish). A wrong type (WRONGTYPE) is raised: quarantine."""
        try:
            return f"invalid:{int(self.redis.incr(self.keys.seq))}"
        except redis.ResponseError as exc:
            from .quarantine import is_wrong_type

            if is_wrong_type(exc):
                raise
            return f"invalid:{os.urandom(16).hex()}"

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Up to `limit` dead-letter entries, oldest failure first (read_hashes.lua, read undecoded).

        Any bytes at all are listed: an id or job that is not UTF-8 is shown with U+FFFD in place of
        the bad bytes, a job that does not parse has `job` None, unreadable meta says so in `reason`.
        """
        limit = integer("limit", limit)
        jobs, metas = scripts.hashes_raw(self.redis, self._read, [self.keys.dlq, self.keys.dlq_meta])
        entries = []
        for key, value in jobs.items():
            job_id, raw = text(key), text(value)
            reason, failed_at, attempts = _meta(metas.get(key))
            try:
                job: Job | None = Job.from_json(raw)
            except (ValueError, TypeError, RecursionError, OverflowError):
                job = None
            entries.append(DeadLetter(job_id, reason, failed_at, attempts, raw, job))
        entries.sort(key=lambda e: e.failed_at)
        return entries[:limit]

    def dlq_size(self) -> int:
        """Number of dead-letter entries (HLEN)."""
        return int(self.redis.hlen(self.keys.dlq))

    def delete_dead(self, job_id: str | bytes) -> bool:
        """Drop one dead letter and its meta, not replayed (delete_dead.lua); False when there was none.

        Its id as dead_letters() lists it, or as bytes (an id that is not UTF-8)."""
        if not (isinstance(job_id, bytes) and job_id):
            check_ids([job_id], "delete_dead() takes a dead-letter id (a non-empty string, as dead_letters() "
                                "lists it, or bytes)")
        return bool(self._delete_dead(keys=[self.keys.dlq, self.keys.dlq_meta], args=[job_id]))

    def replay_dead(self, *job_ids: str) -> int:
        """Send dead-lettered jobs (all when none named) back to the queue, attempts reset (replay.lua).

        A cron schedule's dead letter (`cron:<name>`, CronQueue) is no job: replaying everything
        leaves it where it is, and naming it raises ReplayRefused (CronQueue.replay_dead restores
        schedules); then nothing is replayed.
        """
        check_ids(job_ids)
        letters = self._schedule_letters(job_ids)
        if letters and job_ids:
            raise ReplayRefused(f"{', '.join(map(repr, letters))}: the dead letter of a cron schedule, not a job; "
                                f"replay it with CronQueue(client, {self.name!r}).replay_dead(...), which puts "
                                "the schedule back. Nothing was replayed")
        return self._replay_jobs(job_ids, letters)

    def _replay_jobs(self, job_ids: Sequence[str], letters: dict[str, ScheduleLetter]) -> int:
        """replay.lua on `job_ids`, or on every dead letter but the schedules' `letters` when none named."""
        ids: list[Any] = list(job_ids)
        if not ids and letters:  # every entry but the schedules: replay.lua would take one with an "id" as a job
            skip = {letter.key for letter in letters.values()}
            ids = [key for key in self.redis.execute_command("HKEYS", self.keys.dlq, NEVER_DECODE=True)
                   if key not in skip]
            if not ids:
                return 0  # no ids at all would mean every entry to replay.lua
        kind, target = self._target()
        return int(self._replay(keys=[self.keys.dlq, self.keys.dlq_meta, self.keys.attempts, target,
                                      self.keys.seq], args=[kind, *ids]))

    def _schedule_letters(self, job_ids: Sequence[str]) -> dict[str, ScheduleLetter]:
        """The cron schedules' dead letters among `job_ids` (among all entries when none named), by id.

        One is an entry `cron:<name>` (or `cron:<n>:<name>`) that cron_bury.lua wrote: its reason says
        'cron schedule', or it is no job at all (a job whose own id starts with 'cron:' is a job). Its
        schedule's name is the one its meta names, else (a letter written before meta named it) the id's tail.
        """
        named: list[Any] = [i.encode() for i in dict.fromkeys(job_ids)
                            if isinstance(i, str) and i.startswith(SCHEDULE_PREFIX)]
        if not job_ids:  # only the ids that could be one cross the network, not the whole DLQ
            cursor: Any = 0
            seen: set[bytes] = set()
            while True:
                cursor, page = self.redis.execute_command("HSCAN", self.keys.dlq, cursor, "MATCH",
                                                          SCHEDULE_PREFIX + "*", "COUNT", 1000, NEVER_DECODE=True)
                named += [key for key in page if key not in seen and not seen.add(key)]  # HSCAN may repeat
                if int(cursor) == 0:
                    break
        if not named:
            return {}
        raws = self.redis.execute_command("HMGET", self.keys.dlq, *named, NEVER_DECODE=True)
        metas = self.redis.execute_command("HMGET", self.keys.dlq_meta, *named, NEVER_DECODE=True)
        found = [(key, raw, meta) for key, raw, meta in zip(named, raws, metas) if raw is not None]
        letters = {}
        for key, raw, meta in found:
            reason, failed_at, _ = _meta(meta)
            if not reason.startswith("cron schedule "):
                try:
                    Job.from_json(raw)
                    continue  # a job whose id happens to start with 'cron:'
                except InvalidJob:
                    pass
            letters[text(key)] = ScheduleLetter(key, raw, reason, _schedule_name(key, meta), failed_at)
        return letters

    def clear(self) -> int:
        """Delete every key of this queue, quarantined ones too (SCAN, DEL); returns how many existed."""
        moved_aside = list(self.redis.scan_iter(match=self.keys.match("quarantine:*"), count=1000))
        return int(self.redis.delete(*self.keys.all(), *moved_aside))


def check_ids(job_ids: Sequence[Any], takes: str = "replay_dead() takes dead-letter ids (non-empty strings, "
              "as dead_letters() lists them)") -> None:
    """replay_dead's ids: non-empty strings Redis can hold (UTF-8); else ConfigError naming the bad one."""
    for job_id in job_ids:
        ok = isinstance(job_id, str) and job_id != ""
        try:
            ok = ok and bool(job_id.encode("utf-8"))
        except UnicodeEncodeError:
            ok = False
        if not ok:
            raise ConfigError(f"{takes}, got {job_id!r}")


def _schedule_name(key: bytes, meta: bytes | None) -> str:
    """The name of the schedule whose dead letter is `key`: its meta's "schedule", else the id after 'cron:'."""
    try:
        name = json.loads(text(meta)).get("schedule") if meta else None
    except (ValueError, RecursionError, AttributeError):
        name = None
    return name if isinstance(name, str) else text(key)[len(SCHEDULE_PREFIX):]


def _meta(raw: bytes | None) -> tuple[str, float, int]:
    """(reason, failed_at, attempts) of a dead letter's meta JSON; whatever is unreadable says so or is 0."""
    try:
        meta = json.loads(text(raw)) if raw else {}
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        return f"(unreadable dead-letter meta: {text(raw or b'')[:80]!r})", 0.0, 0
    values: list[Any] = []
    for name, kind, default in (("failed_at", float, 0.0), ("attempts", int, 0)):
        try:
            values.append(kind(meta.get(name, default)))
        except (TypeError, ValueError, OverflowError):
            values.append(default)
    return str(meta.get("reason", "")), values[0], values[1]
