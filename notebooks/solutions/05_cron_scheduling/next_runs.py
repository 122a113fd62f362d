from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def next_runs(expr, tz, after, n):
    """The next `n` occurrences of cron `expr` in time zone `tz` strictly after `after` (an aware
    datetime), as aware datetimes in `tz`."""
    it = croniter(expr, after.astimezone(ZoneInfo(tz)))    # iterate on wall-clock time in tz
    return [it.get_next(datetime) for _ in range(n)]
