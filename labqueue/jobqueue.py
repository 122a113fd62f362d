"""The production queue: the chapter's Bull feature set in Python (`JobQueue`).

Redis structures: see `labqueue.jobspec` (all `lq:{name}:jq:...`). Every public operation is one
round trip: a jq_*.lua script (add, claim, finish, progress, release, stalled, retry, clean, list,
unrepeat) or one MULTI pipeline (counts, get_job, pause, resume). Events go to a Redis stream
(`labqueue.events`); jobs run in a `labqueue.Worker`, which drives the transitions of
`labqueue.jobdelivery` as it drives every other queue's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from redis.exceptions import NoScriptError

from . import _running, scripts
from .base import durable_replicas, durable_wait_ms, text
from .checks import integer, number
from .errors import ConfigError
from .jobdelivery import ActiveJob, Deliveries
from .jobspec import STATES, JobQueueKeys, JobRecord, next_occurrence, normalise, plan, planned
from .worker import Worker  # here, not in process(): an interrupt landing in process() never lands in an import

log = logging.getLogger("labqueue.worker")
SCRIPTS = ("add", "claim", "finish", "progress", "release", "stalled", "retry", "clean", "list", "unrepeat")
MAX_CLEAN = 2**31 - 1  # clean(limit=) in one call (0 = no limit): what a Redis LIMIT count accepts


class JobQueue(Deliveries):
    """`JobQueue(r, "email-jobs", default_job_options={...})`: Bull's queue, on our Lua transitions."""

    def __init__(self, redis_client: Any, name: str, *, default_job_options: Mapping[str, Any] | None = None,
                 lease_seconds: float = 5.0, max_stalled: int = 1,
                 limiter: Mapping[str, float] | None = None, events_maxlen: int = 10_000,
                 max_payload_bytes: int = 1_000_000, durable: bool | int = False,
                 durable_timeout: float = 1.0) -> None:
        lease_seconds = number("lease_seconds", lease_seconds, above=True)
        integer("max_stalled", max_stalled)
        integer("events_maxlen", events_maxlen, low=1, high=2**63 - 1)  # what XADD MAXLEN accepts
        integer("max_payload_bytes", max_payload_bytes, low=1)
        self.redis = redis_client
        self.name = name
        self.keys = JobQueueKeys(name)
        self.durable = durable_replicas(durable, durable_timeout, redis_client)  # replicas add() waits for
        self.durable_timeout = float(durable_timeout)
        # read-only: the defaults are checked and normalised once, here (a later change would be ignored)
        self.default_job_options = MappingProxyType(dict(default_job_options or {}))
        plan("check", {}, self.default_job_options)  # a bad default fails here, not at the first add
        self._defaults = normalise(self.default_job_options)  # what an add without options uses
        self.lease_seconds = float(lease_seconds)
        self.max_stalled = max_stalled
        self.rate_max, self.rate_window = self._limiter(limiter)
        self.events_maxlen = events_maxlen
        self.max_payload_bytes = max_payload_bytes
        self._k = {n: self.keys.for_script(n) for n in SCRIPTS}  # each script gets the keys it uses
        self._s = {n: scripts.load(redis_client, f"jq_{n}") for n in SCRIPTS}
        # add's command up to the jobs' arguments, built and encoded once: EVALSHA sha numkeys KEYS... ARGV[1]
        self._add_head = ("EVALSHA", *(str(a).encode() for a in (self._s["add"].sha, len(self._k["add"]),
                                                                 *self._k["add"], "")))
        self._extend = scripts.load(redis_client, "extend")
        self.handlers: dict[str, Callable[[ActiveJob], Any]] = {}
        self.worker: Worker | None = None
        self._unstarted_lock, self._unstarted, self._unstarted_error = threading.Lock(), [], None  # Deliveries.take

    @staticmethod
    def _limiter(limiter: Mapping[str, float] | None) -> tuple[int, float]:
        if limiter is None:
            return 0, 0.0
        if set(limiter) != {"max", "duration"}:
            raise ConfigError(f"limiter must be {{'max': jobs, 'duration': seconds}}, got {dict(limiter)!r}")
        return (integer("limiter max", limiter["max"], low=1),
                number("limiter duration", limiter["duration"], above=True))

    def _run(self, script: str, *args: Any, client: Any = None) -> Any:
        """Run a jq_*.lua script; ARGV[1] '' = every time in it is the server's (TIME), never ours."""
        return self._s[script](keys=self._k[script], args=["", self.events_maxlen, *args], client=client)

    # -- producing -----------------------------------------------------------------------------
    def _plan(self, name: str, data: Any, opts: Mapping[str, Any]) -> list[Any]:
        """jq_add.lua's arguments for one job (jobspec.planned), its options merged over the defaults."""
        o = normalise({**self.default_job_options, **opts}) if opts else self._defaults
        now = self.server_time() if "repeat" in o else None  # a repeatable job's first run: the server's clock
        return planned(name, data, o, now=now, max_payload_bytes=self.max_payload_bytes)

    def server_time(self) -> float:
        """The clock of the server holding this queue, unix seconds (TIME; on a cluster, its master's)."""
        from .cluster import node_client

        seconds, micros = node_client(self.redis, self.keys.meta).time()
        return int(seconds) + int(micros) / 1e6

    def _add(self, args: list[Any]) -> list[Any]:
        """Run jq_add.lua on the jobs' arguments (5 a job, jobspec.planned); its reply {id, added, ...}."""
        if self.durable:  # jq_add.lua then WAIT on the same connection (labqueue.cluster.durable_write)
            from .cluster import durable_write

            add = self._s["add"]
            return durable_write(self.redis, self.keys.jobs,
                                 lambda pipe: add(keys=self._k["add"], args=["", *args], client=pipe),
                                 replicas=self.durable, timeout_ms=durable_wait_ms(self.durable_timeout))[0]
        try:  # one command, its head built once (Script.__call__ would copy keys and arguments again)
            return self.redis.execute_command(*self._add_head, *args)
        except NoScriptError:  # a server that does not know it yet (new, restarted, SCRIPT FLUSH): EVAL loads it
            return self.redis.execute_command("EVAL", self._s["add"].script, *self._add_head[2:], *args)

    def add(self, name: str, data: Any, **opts: Any) -> str:
        """Add a job; returns its id (an existing id is a no-op: deduplication) (jq_add.lua)."""
        return text(self._add(self._plan(name, data, opts))[0])

    def add_bulk(self, jobs: Iterable[tuple[str, Any] | tuple[str, Any, Mapping[str, Any]]]) -> list[str]:
        """Add many `(name, data[, opts])` jobs in one round trip; all validated first (jq_add.lua)."""
        args: list[Any] = []
        for j in jobs:
            args += self._plan(j[0], j[1], j[2] if len(j) > 2 else {})  # type: ignore[misc]
        return [text(job_id) for job_id in self._add(args)[::2]] if args else []

    def add_next_occurrence(self, record: JobRecord, now: float | None = None) -> str | None:
        """Schedule the run after `record`'s, if its repeatable job still exists: `repeat` or its copy names
        it (jq_add.lua).

        Not before `now`, the server's time (the worker's claim reported it; TIME when None).
        """
        key, ran_at = record.id[len("repeat:"):].rsplit(":", 1)
        now = self.server_time() if now is None else now
        after = max(now, float(ran_at) / 1000)
        args = plan(record.name, record.data, record.opts, key=key, max_payload_bytes=self.max_payload_bytes,
                    occurrence=next_occurrence(record.opts["repeat"], after), now=now)
        job_id, added = self._add(args)
        return text(job_id) if int(added) == 1 else None

    def remove_repeatable(self, key: str) -> bool:
        """Stop a repeatable job (its key: its job_id, or see `repeatables()`) (jq_unrepeat.lua)."""
        return int(self._s["unrepeat"](keys=self._k["unrepeat"], args=[key])) == 1

    def repeatables(self) -> dict[str, str]:
        """Repeatable job key -> id of its pending occurrence (MULTI: HGETALL repeat and its copy: one of them
        may have been moved aside, see jq_add.lua)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hgetall(self.keys.repeat_copy)
        pipe.hgetall(self.keys.repeat)
        copy, found = pipe.execute()
        return {text(k): text(v) for k, v in {**copy, **found}.items()}

    # -- states --------------------------------------------------------------------------------
    def get_job_counts(self) -> dict[str, int]:
        """Jobs per state in one round trip (MULTI: LLEN, ZCARD x5, HEXISTS paused).

        As in Bull, the jobs waiting in a paused queue count as `paused`, not `waiting`.
        """
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(k.wait)
        for zset in (k.prio, k.active, k.delayed, k.completed, k.failed):
            pipe.zcard(zset)
        pipe.hexists(k.meta, "paused")
        wait, prio, active, delayed, completed, failed, paused = pipe.execute()
        waiting = int(wait) + int(prio)
        return {"waiting": 0 if paused else waiting, "active": active, "delayed": delayed,
                "completed": completed, "failed": failed, "paused": waiting if paused else 0}

    def get_job(self, job_id: str) -> JobRecord | None:
        """One job with its state, or None (MULTI: HGET x7, ZSCORE x5, HEXISTS)."""
        if isinstance(job_id, int) and not isinstance(job_id, bool):
            job_id = str(job_id)  # a generated id given as the number it spells
        if not isinstance(job_id, str):
            raise ConfigError(f"get_job() needs a job id (str), got {job_id!r}")
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        for h in (k.jobs, k.made, k.stalls, k.progress, k.results, k.errors):
            pipe.hget(h, job_id)
        for z in (k.active, k.completed, k.failed, k.delayed):
            pipe.zscore(z, job_id)
        pipe.hexists(k.meta, "paused")
        raw, made, stalls, progress, result, error, *scores, paused = pipe.execute()
        if raw is None:
            return None
        state, finished = ("paused" if paused else "waiting"), None
        for s, score in zip(("active", "completed", "failed", "delayed"), scores):
            if score is not None:
                state = s
                finished = score if s in ("completed", "failed") else None
        return self._record(job_id, raw, state, made, stalls, progress, result, error, finished)

    def _record(self, job_id: Any, raw: Any, state: str, made: Any, stalls: Any, progress: Any,
                result: Any, error: Any, finished: Any) -> JobRecord:
        result_s = text(result) if result not in (None, "", b"") else None
        return JobRecord.parse(text(job_id), text(raw), state=state, attempts_made=int(made or 0),
                               stalls=int(stalls or 0), progress=float(progress or 0),
                               return_value=json.loads(result_s) if result_s else None,
                               failed_reason=text(error) if error not in (None, "", b"") else None,
                               finished_on=float(finished) if finished is not None else None)

    def get_jobs(self, state: str, start: int = 0, stop: int = -1) -> list[JobRecord]:
        """Jobs in `state` (waiting / paused, delayed, active, completed, failed) (jq_list.lua)."""
        if state not in STATES:
            raise ConfigError(f"unknown state {state!r}: use one of {', '.join(STATES)}")
        where = "waiting" if state == "paused" else state
        reply = self._s["list"](keys=self._k["list"], args=[where, start, stop])
        out = []
        for i in range(0, len(reply), 8):
            job_id, raw, score, made, stalls, progress, result, error = reply[i:i + 8]
            finished = text(score) if where in ("completed", "failed") else None
            out.append(self._record(job_id, raw, state, made, stalls, progress, result, error, finished))
        return out

    def get_failed(self, start: int = 0, stop: int = -1) -> list[JobRecord]:
        """Failed jobs, newest first, with their errors (jq_list.lua)."""
        return self.get_jobs("failed", start, stop)

    def get_completed(self, start: int = 0, stop: int = -1) -> list[JobRecord]:
        """Completed jobs, newest first, with their return values (jq_list.lua)."""
        return self.get_jobs("completed", start, stop)

    # -- admin ---------------------------------------------------------------------------------
    def retry(self, job_id: str) -> bool:
        """Move one failed job back to waiting, attempts reset; False if it is not failed (jq_retry.lua)."""
        return len(self._run("retry", 1, job_id)) == 1

    def retry_failed(self, limit: int = 10_000) -> int:
        """Move up to `limit` failed jobs back to waiting, oldest first (0: all, as clean's limit); returns
        how many (jq_retry.lua). A negative limit (ZRANGE 0 -4: all but the newest 3) is refused."""
        return len(self._run("retry", integer("limit", limit, high=MAX_CLEAN)))

    def clean(self, grace: float, state: str = "completed", limit: int = 0) -> list[str]:
        """Remove `state` jobs finished more than `grace` s ago (0 = all); returns their ids (jq_clean.lua)."""
        if state not in ("completed", "failed"):
            raise ConfigError(f"state must be 'completed' or 'failed' (clean removes finished jobs), got {state!r}")
        grace = number("grace", grace)
        limit = integer("limit", limit, high=MAX_CLEAN)
        return [text(i) for i in self._run("clean", state, grace, limit)]

    def pause(self) -> None:
        """Stop every worker of this queue from taking new jobs (MULTI: HSET meta paused, XADD)."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(k.meta, "paused", 1)
        pipe.xadd(k.events, {"event": "paused"}, maxlen=self.events_maxlen, approximate=True)
        pipe.execute()

    def resume(self) -> None:
        """Let workers take jobs again and wake them (MULTI: HDEL meta paused, LPUSH marker, XADD)."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(k.meta, "paused")
        pipe.lpush(k.marker, *["1"] * 16)
        pipe.ltrim(k.marker, 0, 63)
        pipe.xadd(k.events, {"event": "resumed"}, maxlen=self.events_maxlen, approximate=True)
        pipe.execute()

    def is_paused(self) -> bool:
        """Whether the queue is paused (HEXISTS)."""
        return bool(self.redis.hexists(self.keys.meta, "paused"))

    def check_stalled(self) -> dict[str, int]:
        """Take back jobs whose lease expired; fail those stalled > max_stalled times (jq_stalled.lua)."""
        return self.check_stalled_and_next()[0]

    def check_stalled_and_next(self) -> tuple[dict[str, int], float | None]:
        """check_stalled(), plus the earliest lease deadline still running, or None (jq_stalled.lua)."""
        sent_at = time.time()
        requeued, failed, nxt = self._run("stalled", self.max_stalled)  # nxt: seconds from now (server)
        return {"requeued": int(requeued), "failed": int(failed)}, (sent_at + float(text(nxt)) if text(nxt) else None)

    def obliterate(self) -> int:
        """Delete every key this queue writes (SCAN, DEL); returns how many existed.

        Bull's "remove everything of this queue": the jq:* keys, and what its workers' quarantine writes
        (labqueue.quarantine): the dead-letter hashes dlq and dlq:meta, the keys moved aside
        (quarantine:<n>) and their counter. Those four are shared with any other queue kind of the same
        name, as BaseQueue.clear() deletes them too; the other kinds' own keys (waiting, ...) stay.
        """
        k = self.keys
        moved_aside = list(self.redis.scan_iter(match=k.match("quarantine:*"), count=1000))
        return int(self.redis.delete(*k.all(), k.dlq, k.dlq_meta, k.quarantine_seq, *moved_aside))

    # -- processing (Bull's queue.process) -----------------------------------------------------
    def process(self, name: str, handler: Callable[[ActiveJob], Any], concurrency: int = 1,
                **worker_options: Any) -> Worker:
        """Register `handler` for jobs called `name` ('*' = any) and start `concurrency` more threads of
        this queue's one labqueue.Worker (poll_seconds 0.5 unless given). A worker stopped meanwhile
        (its own stop(), a notebook cell's cleanup, a refusal from Redis) is not reused: a new one starts."""
        self.handlers[name] = handler
        if self.worker is not None and not self.worker.stopped:
            self.worker.add_threads(concurrency)
            return self.worker
        worker = Worker(self, {}, concurrency=concurrency, **{"poll_seconds": 0.5, **worker_options})
        worker.handlers = self.handlers  # one table: a later process() adds to it

        def stop() -> None:  # stop this worker (not a later one) and forget it
            worker.stop(timeout=10)
            if self.worker is worker:
                self.worker = None

        # announced before it is ours and starts: an interrupt from here on (a notebook cell
        # interrupted inside process()) still stops it and forgets it, never leaving a stopped
        # worker as the queue's worker, nor a running one that nothing stops
        _running.started(self, stop)
        self.worker = worker
        worker.start()
        return worker

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop this queue's worker threads (jobs in hand are finished) and join them."""
        if self.worker is not None:
            self.worker.stop(timeout=timeout)
            self.worker = None
