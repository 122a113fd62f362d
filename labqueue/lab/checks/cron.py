"""Checks of notebook 05: the student's next_runs (croniter in a time zone, across DST), the weekday cron."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..i18n import _, language
from . import NotDone, fail, guard, need, passed

FMT = "%a %d %b %Y %H:%M"
FMT_FR = "EEE d MMM y HH:mm"  # the same in French (Babel's pattern): 'dim. 29 mars 2026 09:00'

# (expression, time zone, after): each spans a daylight-saving change of its zone
CASES = [
    ("0 9 * * *", "Europe/Paris", datetime(2026, 3, 27, 12, tzinfo=ZoneInfo("Europe/Paris"))),
    ("30 18 * * 1-5", "America/New_York", datetime(2026, 10, 29, 12, tzinfo=ZoneInfo("America/New_York"))),
    ("0 9 * * 1", "Europe/Paris", datetime(2026, 10, 10, 0, 0, tzinfo=timezone.utc)),
    ("15 8 * * *", "Australia/Sydney", datetime(2026, 4, 3, 0, 0, tzinfo=timezone.utc)),
]


def _day(moment: datetime, fmt: str, fmt_fr: str) -> str:
    """`moment` (aware, shown in its own zone) with day and month names in the language in use."""
    if language() == "fr":
        from babel.dates import format_datetime

        return format_datetime(moment, fmt_fr, tzinfo=moment.tzinfo, locale="fr")
    return moment.strftime(fmt)


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{_day(moment.astimezone(tz), FMT, FMT_FR)} {tz.key.split('/')[-1].replace('_', ' ')} " \
           f"({moment.astimezone(timezone.utc).strftime('%H:%M')} UTC)"


@guard
def next_runs(r: Any, namespace: Mapping[str, Any]) -> str:
    """Compares the student's next_runs with labqueue.cron.upcoming on four spans that cross a DST change."""
    (student,) = need(namespace, _("Build it yourself: next runs across a daylight-saving change"), "next_runs")
    from ... import cron

    for expr, tz, after in CASES:
        zone = ZoneInfo(tz)
        expected = cron.upcoming(expr, tz, after.timestamp(), 5)
        got = student(expr, tz, after, 5)
        if got is None:
            raise NotDone(_("next_runs returns None: return the list of datetimes."))
        got = list(got)
        if len(got) != 5:
            raise fail(_("next_runs({expr!r}, {tz!r}, after, 5) returned {n} datetimes, not 5.")
                       .format(expr=expr, tz=tz, n=len(got)))
        for n, (want, have) in enumerate(zip(expected, got), 1):
            if not isinstance(have, datetime):
                raise fail(_("run {n} of {expr!r} is {got!r}, not a datetime.").format(n=n, expr=expr, got=have))
            if have.tzinfo is None or have.utcoffset() is None:
                raise fail(_("run {n} of {expr!r} in {tz} is a naive datetime ({got}, no time zone), so it names no "
                             "instant: give croniter an aware datetime in {tz} and return what it gives.")
                           .format(n=n, expr=expr, tz=tz, got=_day(have, "%a %d %b %H:%M", "EEE d MMM HH:mm")))
            if have.timestamp() != want.timestamp():
                if have.astimezone(zone).hour != want.hour:
                    raise fail(_("run {n} of {expr!r} in {tz} should be {want}, yours is {got}; the daylight-saving "
                                 "change was ignored: let croniter iterate on an aware datetime in {tz}.")
                               .format(n=n, expr=expr, tz=tz, want=_local(want, zone), got=_local(have, zone)))
                raise fail(_("run {n} of {expr!r} in {tz} should be {want}, yours is {got}: let croniter iterate on "
                             "an aware datetime in {tz}.")
                           .format(n=n, expr=expr, tz=tz, want=_local(want, zone), got=_local(have, zone)))
    return passed(_("next_runs matches labqueue's cron on four spans across a daylight-saving change (Paris in "
                    "March and October, New York in November, Sydney in April): same wall-clock time, new UTC "
                    "offset."))


@guard
def weekday_cron(r: Any, namespace: Mapping[str, Any]) -> str:
    """"Every weekday at 18:30, New York time": the next three runs after Friday 27 November 2026 noon, and
    after Friday 6 March 2026 noon, across New York's change to daylight-saving time (UTC or EST pass in
    November only)."""
    my_expr, my_tz = need(namespace, _("Exercise"), "my_expr", "my_tz")
    if my_expr is None or my_tz is None:
        raise NotDone(_("write the cron expression in `my_expr` and the time zone in `my_tz`, run their cell, "
                        "then this check."))
    from ... import cron
    from ...errors import ConfigError

    ny = ZoneInfo("America/New_York")
    weekdays = ["Fri 18:30", "Mon 18:30", "Tue 18:30"]
    try:  # a week in November, then one across New York's change to daylight-saving time (Sunday 8 March 2026)
        runs = cron.upcoming(my_expr, my_tz, datetime(2026, 11, 27, 12, tzinfo=ny).timestamp(), 3)
        march = cron.upcoming(my_expr, my_tz, datetime(2026, 3, 6, 12, tzinfo=ny).timestamp(), 3)
    except ConfigError as exc:
        raise fail(_("labqueue refuses it: {error}.").format(error=exc)) from None
    if [d.astimezone(ny).strftime("%a %H:%M") for d in runs] != weekdays:
        shown = ", ".join(_day(d.astimezone(ny), "%a %H:%M", "EEE HH:mm") for d in runs)
        raise fail(_("after Friday 27 November 2026, noon in New York, yours runs at {runs} New York time, not at "
                     "18:30 on the next three weekdays.").format(runs=shown))
    if [d.astimezone(ny).strftime("%a %H:%M") for d in march] != weekdays:
        shown = ", ".join(_day(d.astimezone(ny), "%a %H:%M", "EEE HH:mm") for d in march)
        raise fail(_("right in November, but after the change of 8 March 2026 yours runs at {runs} New York time: "
                     "the time zone {tz!r} does not change its clocks when New York does.")
                   .format(runs=shown, tz=my_tz))
    shown = ", ".join(_day(d, "%a %d %b %H:%M", "EEE d MMM HH:mm") + d.strftime(" %Z") for d in runs)
    spring = ", ".join(_day(d, "%a %d %b %H:%M", "EEE d MMM HH:mm") + d.strftime(" %Z") for d in march)
    return passed(_("correct: {runs} (23:30 UTC); across the change of 8 March: {march} (23:30, then 22:30 UTC).")
                  .format(runs=shown, march=spring))
