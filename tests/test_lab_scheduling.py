"""Notebooks 04-05 helpers: delayed jobs against live schedulers, cron in simulated time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from labqueue import CronQueue, DelayedQueue
from labqueue.cron import upcoming
from labqueue.lab import scheduling as s

PARIS = ZoneInfo("Europe/Paris")


def test_delay_experiment_runs_every_job_once(r):
    """Every delayed job is promoted and started exactly once, with either scheduler."""
    for interval in (0.3, None):
        q = DelayedQueue(r, f"d{interval}")
        e = s.DelayExperiment(q, interval=interval, jobs=8, rate=40, max_delay=0.4, live=False)
        e.run()
        assert not e.stopped_early
        assert q.delayed_size() == 0 and q.size() == 0
        assert len({x.job_id for x in e.starts}) == len(e.starts) == 8
        assert all(x.started >= x.planned for x in e.starts)


def test_dst_changes_finds_paris_spring_and_fall():
    """dst_changes returns the instants Paris switches to CEST and back to CET."""
    changes = s.dst_changes("Europe/Paris", datetime(2026, 1, 1, tzinfo=PARIS).timestamp())
    assert [(c.month, c.day, c.hour, int(c.utcoffset().total_seconds() // 3600)) for c in changes] == \
        [(3, 29, 3, 2), (10, 25, 2, 1)]


def test_every_24h_drifts_one_hour_across_spring_forward():
    """+86 400 s from 09:00 CET lands at 10:00 CEST after the change; cron stays at 09:00."""
    first = datetime(2026, 3, 28, 9, tzinfo=PARIS).timestamp()
    naive = [datetime.fromtimestamp(t, PARIS).hour for t in s.every_24h(first, 2)]
    cron = [d.hour for d in upcoming("0 9 * * *", "Europe/Paris", first - 1, 2)]
    assert naive == [9, 10] and cron == [9, 9]


def test_occurrences_table_columns():
    """occurrences lists local time, weekday, offset and the other zones asked for."""
    df = s.occurrences("0 9 * * 1", "Europe/Paris", datetime(2026, 6, 1, tzinfo=PARIS).timestamp(), 2,
                       show=("UTC",))
    assert list(df.columns) == ["local time", "weekday", "UTC offset", "UTC"]
    assert list(df["local time"]) == ["2026-06-01 09:00", "2026-06-08 09:00"]
    assert list(df["UTC"]) == ["2026-06-01 07:00", "2026-06-08 07:00"]


def test_fast_forward_fires_each_occurrence_once(r):
    """Fast-forwarding 14 days fires the daily job 14 times and the weekly job twice."""
    cq = CronQueue(r, "cron")
    cq.schedule_daily({"type": "report"}, 9, 0, tz="Europe/Paris", name="daily")
    cq.schedule_weekly({"type": "digest"}, 0, 9, 0, tz="Europe/Paris", name="weekly")
    first = cq.next_due()
    fired = s.fast_forward(cq, first + s.days(14) - 1)
    names = [f.schedule for f in fired]
    assert names.count("daily") == 14 and names.count("weekly") == 2
    assert len({(f.schedule, f.run_at) for f in fired}) == len(fired)
    assert cq.size() == 0 and cq.delayed_size() == 2


def test_two_racing_schedulers_enqueue_each_occurrence_once(make_client):
    """Two CronQueue schedulers ticking at the same instants enqueue each occurrence once."""
    a, b = make_client(), make_client()
    cq = CronQueue(a, "race")
    cq.schedule_cron({"type": "tick"}, "0 * * * *", "UTC", name="hourly")
    first = cq.next_due()
    instants = [first + 3600 * i for i in range(24)]
    out = s.race_schedulers([a, b], "race", instants)
    assert out["ticks"] == 48 and out["waiting"] == 24


def test_naive_cron_step_fires_twice_when_interleaved(r):
    """The chapter's GET-then-LPUSH-then-SET step, interleaved, pushes one occurrence twice."""
    one = s.NaiveCronStep(r, "naive:next", "naive:jobs", "0 9 * * *", "UTC")
    two = s.NaiveCronStep(r, "naive:next", "naive:jobs", "0 9 * * *", "UTC")
    first = one.arm(1_800_000_000.0)
    assert one.check(first) and two.check(first)
    one.fire()
    two.fire()
    assert r.lrange("naive:jobs", 0, -1) == [f"occurrence@{int(first)}"] * 2
