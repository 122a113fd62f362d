from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def next_runs(expr, tz, after, n):
    """Les `n` prochaines occurrences de l'expression cron `expr` dans le fuseau horaire `tz`,
    strictement après `after` (un datetime aware), sous forme de datetimes aware dans `tz`."""
    it = croniter(expr, after.astimezone(ZoneInfo(tz)))    # itère sur l'heure locale (celle des horloges) de tz
    return [it.get_next(datetime) for _ in range(n)]
