"""Checks of notebook 05: the student's next_runs (croniter in a time zone, across DST), the weekday cron."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from . import NotDone, fail, guard, need, passed

BUILD_CELL = "Build it yourself: next runs across a daylight-saving change"
PREDICTION_CELL = "Exercise"
FMT = "%a %d %b %Y %H:%M"

# (expression, time zone, after): each spans a daylight-saving change of its zone
CASES = [
    ("0 9 * * *", "Europe/Paris", datetime(2026, 3, 27, 12, tzinfo=ZoneInfo("Europe/Paris"))),
    ("30 18 * * 1-5", "America/New_York", datetime(2026, 10, 29, 12, tzinfo=ZoneInfo("America/New_York"))),
    ("0 9 * * 1", "Europe/Paris", datetime(2026, 10, 10, 0, 0, tzinfo=timezone.utc)),
    ("15 8 * * *", "Australia/Sydney", datetime(2026, 4, 3, 0, 0, tzinfo=timezone.utc)),
]


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz).strftime(FMT)} {tz.key.split('/')[-1].replace('_', ' ')} " \
           f"({moment.astimezone(timezone.utc).strftime('%H:%M')} UTC)"


@guard
def next_runs(r: Any, namespace: Mapping[str, Any]) -> str:
    """Compares the student's next_runs with labqueue.cron.upcoming on four spans that cross a DST change."""
    (student,) = need(namespace, BUILD_CELL, "next_runs")
    from ... import cron

    for expr, tz, after in CASES:
        zone = ZoneInfo(tz)
        expected = cron.upcoming(expr, tz, after.timestamp(), 5)
        got = student(expr, tz, after, 5)
        if got is None:
            raise NotDone("next_runs returns None: return the list of datetimes.")
        got = list(got)
        if len(got) != 5:
            raise fail(f"next_runs({expr!r}, {tz!r}, after, 5) returned {len(got)} datetimes, not 5.")
        for n, (want, have) in enumerate(zip(expected, got), 1):
            if not isinstance(have, datetime):
                raise fail(f"run {n} of {expr!r} is {have!r}, not a datetime.")
            if have.tzinfo is None or have.utcoffset() is None:
                raise fail(f"run {n} of {expr!r} in {tz} is a naive datetime ({have:%a %d %b %H:%M}, no time zone), "
                           f"so it names no instant: give croniter an aware datetime in {tz} and return what it gives.")
            if have.timestamp() != want.timestamp():
                change = "; the daylight-saving change was ignored" if have.astimezone(zone).hour != want.hour else ""
                raise fail(f"run {n} of {expr!r} in {tz} should be {_local(want, zone)}, yours is "
                           f"{_local(have, zone)}{change}: let croniter iterate on an aware datetime in {tz}.")
    return passed("next_runs matches labqueue's cron on four spans across a daylight-saving change (Paris in "
                  "March and October, New York in November, Sydney in April): same wall-clock time, new UTC offset.")


@guard
def weekday_cron(r: Any, namespace: Mapping[str, Any]) -> str:
    """"Every weekday at 18:30, New York time": the next three runs after Friday 27 November 2026 noon."""
    my_expr, my_tz = need(namespace, PREDICTION_CELL, "my_expr", "my_tz")
    if my_expr is None or my_tz is None:
        raise NotDone("write the cron expression in `my_expr` and the time zone in `my_tz`, run their cell, "
                      "then this check.")
    from ... import cron
    from ...errors import ConfigError

    ny = ZoneInfo("America/New_York")
    try:
        runs = cron.upcoming(my_expr, my_tz, datetime(2026, 11, 27, 12, tzinfo=ny).timestamp(), 3)
    except ConfigError as exc:
        raise fail(f"labqueue refuses it: {exc}.") from None
    got = [d.astimezone(ny).strftime("%a %H:%M") for d in runs]
    if got != ["Fri 18:30", "Mon 18:30", "Tue 18:30"]:
        raise fail(f"after Friday 27 November 2026, noon in New York, yours runs at {', '.join(got)} New York time, "
                   "not at 18:30 on the next three weekdays.")
    return passed("correct: " + ", ".join(d.strftime("%a %d %b %H:%M %Z") for d in runs) + " (23:30 UTC).")
