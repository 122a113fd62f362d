# expect: run 2 of '0 9 \* \* \*' in Europe/Paris should be Sun 29 Mar 2026 09:00 Paris \(07:00 UTC\), yours is Sun 29 Mar 2026 10:00 Paris \(08:00 UTC\); the daylight-saving change was ignored
# The first run from croniter, then "last run + 86,400 s", as a delay-based scheduler does: one hour off after the change.
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


def next_runs(expr, tz, after, n):
    first = croniter(expr, after.astimezone(ZoneInfo(tz))).get_next(datetime)
    return [datetime.fromtimestamp(first.timestamp() + 86400 * i, ZoneInfo(tz)) for i in range(n)]
