# expect: run 1 of '0 9 \* \* \*' in Europe/Paris is a naive datetime .*no time zone.*give croniter an aware datetime in Europe/Paris
# croniter on a naive datetime: the results name no instant at all.
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def next_runs(expr, tz, after, n):
    it = croniter(expr, after.astimezone(ZoneInfo(tz)).replace(tzinfo=None))
    return [it.get_next(datetime) for _ in range(n)]
