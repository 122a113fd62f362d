"""CronQueue and labqueue.cron: time zones, daylight saving, exactly-once occurrences."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import fakeredis
import pytest

from labqueue import ConfigError, CronQueue
from labqueue.cron import next_run, upcoming

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


def test_spring_forward_runs_after_the_gap():
    """02:30 does not exist on 2026-03-29 in Paris: that day the job runs at 03:00 CEST."""
    runs = upcoming("30 2 * * *", "Europe/Paris", paris(2026, 3, 27, 12), 3)
    assert [(d.day, d.hour, d.minute) for d in runs] == [(28, 2, 30), (29, 3, 0), (30, 2, 30)]
    assert runs[1].utcoffset().total_seconds() == 7200


def test_fall_back_fixed_hour_runs_once():
    """02:30 happens twice on 2026-10-25 in Paris: a daily job runs once, 24 h apart in wall time."""
    runs = upcoming("30 2 * * *", "Europe/Paris", paris(2026, 10, 24, 12), 2)
    assert [(d.day, d.hour) for d in runs] == [(25, 2), (26, 2)]
    assert runs[1].timestamp() - runs[0].timestamp() == 25 * 3600


def test_fall_back_hourly_runs_every_real_hour():
    """An hourly job runs at both 02:00s of the fall-back night (every real hour)."""
    runs = upcoming("0 * * * *", "Europe/Paris", paris(2026, 10, 25, 0, 30), 4)
    gaps = {runs[i + 1].timestamp() - runs[i].timestamp() for i in range(3)}
    assert gaps == {3600.0}


def test_weekly_matches_chapter_day_numbering(r):
    """schedule_weekly uses 0 = Monday as the chapter does."""
    q = CronQueue(r, "weekly")
    name = q.schedule_weekly({"type": "report"}, day_of_week=0, hour=9, tz="Europe/Paris")
    [(raw, score)] = r.zrange(q.keys.delayed, 0, -1, withscores=True)
    when = datetime.fromtimestamp(score, PARIS)
    assert when.weekday() == 0 and (when.hour, when.minute) == (9, 0)
    assert name in q.schedules()


def test_occurrences_enqueued_once_with_two_schedulers(r, make_client):
    """Two schedulers ticking over the same times enqueue each occurrence exactly once."""
    a, b = CronQueue(r, "exact"), CronQueue(make_client(), "exact")
    a.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5")
    start = next_run("*/5 * * * *", "UTC", 1_800_000_000)
    for step in range(0, 3600, 30):  # an hour of ticks, both schedulers each time
        now = start + step
        for q in (a, b, b, a):
            q.tick(now=now)
    ids = []
    while (job := a.dequeue()) is not None:
        ids.append(job.id)
    assert len(ids) == len(set(ids)) == 12
    assert a.delayed_size() == 1  # the next occurrence, exactly one


def test_daily_job_ids_are_deterministic(r):
    """An occurrence's job id is <schedule>@<run-at>, the same whoever enqueues it."""
    q = CronQueue(r, "ids")
    name = q.schedule_daily({"type": "backup"}, hour=3, tz="UTC")
    [raw] = r.zrange(q.keys.delayed, 0, -1)
    assert f'"id":"{name}@' in raw


@pytest.mark.parametrize("expr,tz,message", [
    ("61 * * * *", "UTC", "invalid cron expression"),
    ("* * *", "UTC", "invalid cron expression"),
    ("0 9 * * *", "Mars/Olympus", "unknown time zone"),
    ("0 9 * * *", "", "time zone must be an IANA name"),
])
def test_bad_schedules(expr, tz, message):
    """An invalid cron expression or time zone is refused by name; nothing written."""
    r = fakeredis.FakeRedis()
    with pytest.raises(ConfigError, match=message):
        CronQueue(r, "bad").schedule_cron({"x": 1}, expr, tz)
    assert r.dbsize() == 0


def test_bad_daily_hour():
    """schedule_daily refuses hour 24."""
    r = fakeredis.FakeRedis()
    with pytest.raises(ConfigError, match="hour must be an integer from 0 to 23"):
        CronQueue(r, "bad").schedule_daily({"x": 1}, hour=24)
    assert r.dbsize() == 0


def test_simulated_dates_with_injected_time(r):
    """With `now` injected, a daily schedule yields one job per simulated day."""
    q = CronQueue(r, "sim")
    start = paris(2026, 3, 27, 12)
    q.schedule_daily({"type": "report"}, 9, tz="Europe/Paris", name="daily", now=start)
    for day in range(1, 6):
        q.tick(now=start + day * 86400)
    assert q.size() == 5 and q.delayed_size() == 1
