"""Cron expressions with a time zone (croniter + zoneinfo), correct across daylight-saving changes.

Spring forward: a time that does not exist that day (02:30 in Europe/Paris on the last Sunday of
March) runs at the first instant after the gap (03:00). Fall back: a schedule with a fixed hour runs
once at the first of the two identical wall-clock times; a schedule whose hour field is `*` runs at
every real occurrence (both 02:00s), as Vixie cron does.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from croniter import CroniterError, croniter

from . import scripts
from .base import SCHEDULE_PREFIX, check_ids, text
from .checks import check_now, integer, number
from .delayed import DelayedQueue
from .errors import ConfigError, ReplayRefused
from .job import Job

log = logging.getLogger("labqueue.scheduler")
BAD_SCHEDULE = (ValueError, TypeError, KeyError, RecursionError, OverflowError)  # parsing, croniter


def zone(tz: str) -> ZoneInfo:
    """The ZoneInfo named `tz`; ConfigError when no such time zone exists."""
    if not isinstance(tz, str) or not tz:
        raise ConfigError(f"time zone must be an IANA name such as 'Europe/Paris', got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {tz!r} (use an IANA name such as 'Europe/Paris')") from None


def validate(expr: str, tz: str = "UTC") -> ZoneInfo:
    """Check a 5-field cron expression that fires some day, and a time zone; ConfigError naming the bad one."""
    if not isinstance(expr, str) or len(expr.split()) != 5 or not croniter.is_valid(expr):
        raise ConfigError(f"invalid cron expression {expr!r}: expected 5 fields "
                          "'minute hour day-of-month month day-of-week', e.g. '0 9 * * 1'")
    tzinfo = zone(tz)
    try:  # croniter accepts dates that never come (February 31st), then fails to find one
        croniter(expr, datetime.now(tzinfo)).get_next(float)
    except CroniterError:
        raise ConfigError(f"cron expression {expr!r} never fires: no date matches it "
                          "(e.g. February 30th or 31st)") from None
    return tzinfo


def _repeated_wall_time(moment: datetime, tzinfo: ZoneInfo) -> bool:
    """True for the second pass of an ambiguous local time (the hour repeated at fall back)."""
    first = moment.replace(tzinfo=None).replace(tzinfo=tzinfo, fold=0)
    return first.utcoffset() != moment.utcoffset()


def next_run(expr: str, tz: str, after: float) -> float:
    """Unix time of the first occurrence of `expr` in `tz` strictly after unix time `after`."""
    tzinfo = validate(expr, tz)
    fixed_hour = expr.split()[1] != "*"
    it = croniter(expr, datetime.fromtimestamp(after, timezone.utc).astimezone(tzinfo))
    while True:
        moment: datetime = it.get_next(datetime)
        if moment.timestamp() > after and not (fixed_hour and _repeated_wall_time(moment, tzinfo)):
            return moment.timestamp()


def upcoming(expr: str, tz: str, after: float, count: int = 5) -> list[datetime]:
    """The next `count` occurrences after unix time `after`, as aware datetimes in `tz`; `count` an int >= 1."""
    count = integer("count", count, low=1)
    tzinfo = validate(expr, tz)
    runs, t = [], after
    for _ in range(count):
        t = next_run(expr, tz, t)
        runs.append(datetime.fromtimestamp(t, tzinfo))
    return runs


class CronQueue(DelayedQueue):
    """The chapter's CronQueue: `schedule_daily`, `schedule_weekly`, and `schedule_cron(expr, tz)`.

    Redis structures: the hash `lq:{name}:cron` (schedule name -> {"expr", "tz", "type", "data"})
    and `lq:{name}:cron:last` (schedule name -> run-at of the last occurrence enqueued). Each pass
    keeps exactly one future occurrence per schedule in the delayed set; its job id is
    `<schedule>@<unix run-at>`, and cron_fire.lua enqueues it once however many schedulers race.
    """

    def __init__(self, redis_client: Any, queue_name: str = "cron_jobs", **options: Any) -> None:
        super().__init__(redis_client, queue_name, **options)
        self._fire = scripts.load(redis_client, "cron_fire")
        self._bury_schedule = scripts.load(redis_client, "cron_bury")
        self._restore_schedule = scripts.load(redis_client, "cron_restore")

    def schedule_cron(self, job_data: dict[str, Any], expr: str, tz: str = "UTC", *,
                      name: str | None = None, type: str | None = None, now: float | None = None) -> str:
        """Register a schedule and enqueue its next occurrence after `now`; returns its name (HSET + cron_fire.lua)."""
        validate(expr, tz)
        now = check_now(now)
        template = self._new_job(job_data, type=type, job_id="template")  # validates the data
        name = name or f"{template.type}[{expr}|{tz}]"
        spec = json.dumps({"expr": expr, "tz": tz, "type": template.type, "data": job_data},
                          separators=(",", ":"))
        self.redis.hset(self.keys.cron, name, spec)
        self.run_cron(now)
        return name

    def schedule_daily(self, job_data: dict[str, Any], hour: int, minute: int = 0, tz: str = "UTC",
                       **kwargs: Any) -> str:
        """Every day at hour:minute in `tz` (cron `M H * * *`)."""
        _check_range("hour", hour, 0, 23)
        _check_range("minute", minute, 0, 59)
        return self.schedule_cron(job_data, f"{minute} {hour} * * *", tz, **kwargs)

    def schedule_weekly(self, job_data: dict[str, Any], day_of_week: int, hour: int = 9, minute: int = 0,
                        tz: str = "UTC", **kwargs: Any) -> str:
        """Every week on `day_of_week` (0 = Monday, as in the chapter) at hour:minute in `tz`."""
        _check_range("day_of_week", day_of_week, 0, 6)
        _check_range("hour", hour, 0, 23)
        _check_range("minute", minute, 0, 59)
        return self.schedule_cron(job_data, f"{minute} {hour} * * {(day_of_week + 1) % 7}", tz, **kwargs)

    def unschedule(self, name: str) -> bool:
        """Forget a schedule; its already-enqueued next occurrence still runs (HDEL)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self.keys.cron, name)
        pipe.hdel(self.keys.cron_last, name)
        return bool(pipe.execute()[0])

    def schedules(self) -> dict[str, dict[str, Any]]:
        """Schedule name -> definition; an unreadable one as {"invalid": its text} (read_hashes.lua)."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in scripts.hashes_raw(self.redis, self._read, [self.keys.cron])[0].items():
            try:
                out[text(key)] = _parse_schedule(value)
            except BAD_SCHEDULE:
                out[text(key)] = {"invalid": text(value)}
        return out

    def run_cron(self, now: float | None = None) -> int:
        """Enqueue the next occurrence of every schedule whose last one is due; returns how many new.

        One read (read_hashes.lua), then cron_fire.lua per due schedule. A schedule that cannot run
        (not JSON, a date that never comes) is moved to the dead-letter queue and logged
        (cron_bury.lua); the others still fire.
        """
        now = check_now(now)
        if now is None:  # occurrences come from the server's clock; `now` is for lessons and tests
            sec, usec = self.redis.time()
            now = int(sec) + int(usec) / 1e6
        specs, lasts = scripts.hashes_raw(self.redis, self._read, [self.keys.cron, self.keys.cron_last])
        fired = 0
        for key, value in specs.items():
            name = text(key)
            try:
                last = float(lasts.get(key, b"-1"))
            except ValueError:
                last = -1.0  # a junk last run: fire the next occurrence (cron_fire.lua overwrites it)
            if not math.isfinite(last):
                last = -1.0  # 'inf' would silence the schedule forever, 'nan' is no time
            if last > now:
                continue  # its next occurrence is already waiting in the delayed set
            try:
                run_at, job = self._occurrence(name, value, now)
            except BAD_SCHEDULE as exc:
                try:
                    self._bury_bad_schedule(key, value, exc)
                except redis.ResponseError as refused:  # e.g. a wrong-typed DLQ key: the others still fire
                    log.error("queue %s: cron schedule %r cannot run (%s) and cannot be dead-lettered: %s",
                              self.name, text(key), exc, refused)
                continue
            fired += int(self._fire(keys=[self.keys.cron_last, self.keys.delayed, self.keys.wake],
                                    args=[name, repr(run_at), job.raw]))
        return fired

    def _occurrence(self, name: str, value: bytes | str, now: float) -> tuple[float, Job]:
        """The next occurrence after `now` of the schedule stored as `value`: (run-at, job); BAD_SCHEDULE if none."""
        spec = _parse_schedule(value)
        run_at = next_run(spec["expr"], spec["tz"], now)
        return run_at, self._new_job(spec["data"], type=spec["type"], job_id=f"{name}@{int(run_at)}",
                                     run_at=run_at)

    def replay_dead(self, *job_ids: str) -> int:
        """Replay dead-lettered jobs (all when none named), and put dead-lettered schedules back.

        A schedule that could not run is dead-lettered as `cron:<name>` (run_cron), or `cron:<n>:<name>`
        when one of that name is already there; its meta names the schedule. Replaying it puts
        its definition, as it was, back among the schedules when it can run now (the time zone is
        known on this host, the data fits this queue's max_payload_bytes...) and no schedule of that
        name exists again (of several letters of one name, the newest goes back; the others stay);
        its next occurrence after now is enqueued (cron_restore.lua, run_cron).
        Counted with the jobs in the number returned. Named ones that cannot go back raise
        ReplayRefused naming each and why, before anything is replayed; when replaying everything,
        they are logged and stay in the dead-letter queue. Nothing is ever dropped.
        """
        check_ids(job_ids)
        letters = self._schedule_letters(job_ids)
        sec, usec = self.redis.time()
        now = int(sec) + int(usec) / 1e6
        refused: dict[str, str] = {}
        going_back: set[str] = set()  # newest first: of two letters of one schedule, the newer goes back
        for letter_id, letter in sorted(letters.items(), key=lambda item: -item[1].failed_at):
            name = letter.name
            try:
                self._occurrence(name, letter.raw, now)
            except BAD_SCHEDULE as exc:
                refused[letter_id] = f"it still cannot run: {str(exc) or type(exc).__name__}"
                continue
            if name in going_back:
                refused[letter_id] = (f"a newer dead letter of schedule {name!r} goes back in this replay: "
                                      "putting this older definition back too would replace it")
            elif self.redis.hexists(self.keys.cron, name):
                refused[letter_id] = (f"a schedule named {name!r} exists again (scheduled since it was "
                                      "dead-lettered): putting the old definition back would replace it")
            else:
                going_back.add(name)
        if refused and job_ids:
            raise ReplayRefused("cannot put back " + "; ".join(f"cron schedule {i!r}: {why}" for i, why in refused.items())
                                + ". Nothing was replayed; the dead letters stay")
        for letter_id, why in refused.items():
            log.warning("queue %s: dead letter %r not replayed: %s", self.name, letter_id, why)
        replayed = self._replay_jobs([i for i in job_ids if i not in letters], letters) if (
            not job_ids or len(letters) < len(set(job_ids))) else 0
        restored = 0
        k = self.keys
        for letter_id, letter in letters.items():
            if letter_id in refused:
                continue
            name = letter.name
            done = int(self._restore_schedule(keys=[k.cron, k.cron_last, k.dlq, k.dlq_meta],
                                              args=[letter.key, letter.raw, name]))
            if done == -1:  # scheduled again between the check and now
                log.warning("queue %s: dead letter %r not replayed: a schedule named %r exists again",
                            self.name, letter_id, name)
            restored += done == 1
        if restored:
            self.run_cron()
        return replayed + restored

    def _bury_bad_schedule(self, key: bytes, value: bytes, exc: BaseException) -> None:
        """Move a schedule that cannot run to the dead-letter queue as `cron:<name>`, and log it.

        An earlier dead letter of the same name stays: this one goes under `cron:<n>:<name>`, its meta
        naming the schedule (cron_bury.lua), so burying a name twice loses neither definition.
        """
        name = text(key)
        reason = f"cron schedule {name!r} cannot run: {str(exc) or type(exc).__name__}"
        k = self.keys  # failed at the server's clock (cron_bury.lua)
        stored = self._bury_schedule(keys=[k.cron, k.cron_last, k.dlq, k.dlq_meta],
                                     args=[key, value, f"{SCHEDULE_PREFIX}{name}", json.dumps(reason),
                                           json.dumps(name)])
        if stored != 0:
            log.error("queue %s: %s; moved to the dead-letter queue as %r", self.name, reason, text(stored))

    def tick(self, now: float | None = None) -> float | None:
        """One scheduler pass: promote due jobs, then enqueue the cron occurrences that follow."""
        now = check_now(now)
        nxt = super().tick(now)
        if self.run_cron(now):
            nxt = super().tick(now)  # the new occurrence may be the next due, on the caller's clock
        return nxt


def _parse_schedule(value: bytes | str) -> dict[str, Any]:
    """A stored schedule definition, checked: {"expr", "tz", "type", "data"}; ValueError naming what is wrong."""
    try:
        spec = json.loads(value)
    except ValueError as exc:  # also invalid UTF-8
        raise ValueError(f"definition is not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or not {"expr", "tz", "type", "data"} <= set(spec):
        raise ValueError("definition must be a JSON object with 'expr', 'tz', 'type' and 'data'")
    validate(spec["expr"], spec["tz"])
    return spec


def _check_range(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
