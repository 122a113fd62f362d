"""One place that checks the numbers given to labqueue: finite, in range, of the right kind.

Every error names the argument and the value it got (`lease_seconds must be a finite number > 0,
got nan`). Settings raise ConfigError; job options pass `error=InvalidJob`.
"""

from __future__ import annotations

import math
import numbers
from datetime import datetime, timezone
from typing import Any

from .errors import ConfigError, LabqueueError

LAST_NOW = datetime(9000, 1, 1, tzinfo=timezone.utc).timestamp()  # a `now` past it leaves datetime's range


def number(name: str, value: Any, *, low: float = 0.0, above: bool = False, high: float | None = None,
           error: type[LabqueueError] = ConfigError) -> float:
    """`value` as a float: a finite real >= `low` (> `low` with `above`), <= `high`; else `error`."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    try:
        as_float = float(value) if ok else math.nan
    except (OverflowError, ValueError):  # an int too large for a float
        ok = False
    if not ok or not math.isfinite(as_float) or as_float < low or (above and as_float == low) \
            or (high is not None and as_float > high):
        bound = f"{'>' if above else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise error(f"{name} must be a finite number {bound}, got {value!r}")
    return as_float


def integer(name: str, value: Any, *, low: int = 0, high: int | None = None,
            error: type[LabqueueError] = ConfigError) -> int:
    """`value` as an int from `low` to `high` (inclusive); a bool, float or string raises `error`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low \
            or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise error(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


def check_now(now: Any) -> float | None:
    """A lesson's or test's `now` (unix s) as a float, or None; ConfigError when it is no usable time.

    Checked before anything runs (DelayedQueue.promote/tick, CronQueue.run_cron/tick): an infinite
    `now` promoted every delayed job however far ahead, and an infinite or far-future one made every
    schedule's next occurrence fail to compute, so run_cron dead-lettered valid schedules as 'cannot run'.
    """
    return None if now is None else number("now", now, high=LAST_NOW)
