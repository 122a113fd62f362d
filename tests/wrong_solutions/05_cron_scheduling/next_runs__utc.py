# expect: run 1 of '0 9 \* \* \*' in Europe/Paris should be Sat 28 Mar 2026 09:00 Paris \(08:00 UTC\), yours is Sat 28 Mar 2026 10:00 Paris \(09:00 UTC\)
# The cron computed in UTC and only shown in the time zone: 09:00 UTC is not 09:00 in Paris.
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter


def next_runs(expr, tz, after, n):
    it = croniter(expr, after.astimezone(timezone.utc))
    return [it.get_next(datetime).astimezone(ZoneInfo(tz)) for _ in range(n)]
