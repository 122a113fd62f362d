"""Check cells of the exercises: run the student's code through the lab's own harness, answer in a sentence.

A check cell calls one function of this package with the notebook's client and `globals()`:

    checks.my_queue(r, globals())

and ends in one of four ways:

- a name the check needs is not defined (the exercise cell was not run): `CheckFailed` with one
  sentence naming the cell to run first;
- the skeleton is untouched (a body still raises NotImplementedError, a prediction is still None):
  it prints "not done yet: ..." and returns "not done" (no exception, so the student version of a
  notebook runs top to bottom);
- the answer is wrong: `CheckFailed` with one sentence saying what went wrong;
- the answer is right: it prints "✓ ..." and returns "passed".

Every check rebuilds its own state (its own keys, deleted first and after), so it can be run again.
In Jupyter a `CheckFailed` shows as its sentence alone, without a traceback.

Every sentence goes through `_()` (labqueue.lab.i18n): a French notebook (`use_language("fr")`) gets
its checks' verdicts in French from ``locale/fr/LC_MESSAGES/checks.po``. The cell a check names is the
heading above the exercise cell, translated with the notebook (`_("Exercise")` is "Exercice").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ...keys import glob_escape
from ..i18n import N_, _, translate
from ..session import qname


class Verdict(str):
    """What a check returns: the plain string "passed" or "not done" for code that compares it, shown
    as the cell's result in the notebook's language (the English display is the string's own repr)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(translate(str(self))))


PASSED = Verdict(N_("passed"))
NOT_DONE = Verdict(N_("not done"))


class CheckFailed(AssertionError):
    """A check's verdict: one sentence saying what went wrong."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\x1b[31m✗ {self}\x1b[0m"]


class NotDone(Exception):
    """Raised inside a check when the student's code is still the skeleton."""


def passed(message: str) -> str:
    """Print the success sentence; returns "passed"."""
    print(f"✓ {message}")
    return PASSED


def not_done(message: str) -> str:
    """Print the "not done yet" sentence; returns "not done"."""
    print(_("… not done yet: {message}").format(message=message))
    return NOT_DONE


def fail(message: str) -> CheckFailed:
    """The exception a check raises (`raise fail("job 7 was lost: ...")`)."""
    return CheckFailed(message)


def need(namespace: Mapping[str, Any], cell: str, *names: str) -> list[Any]:
    """The values of `names` in the notebook's namespace; CheckFailed naming `cell` when one is missing."""
    missing = [n for n in names if n not in namespace]
    if missing:
        raise fail(_("`{name}` is not defined yet: run the cell under “{cell}” first, then this check.")
                   .format(name=missing[0], cell=cell))
    return [namespace[n] for n in names]


def fresh(r: Any, *names: str) -> None:
    """Delete the keys `name` and `name:*` of each name (SCAN + DEL), never anything else."""
    for name in names:
        doomed = [name, *r.scan_iter(match=f"{glob_escape(name)}:*", count=1000)]
        r.delete(*doomed)


@contextmanager
def state(r: Any, *names: str) -> Iterator[None]:
    """Keys of `names` deleted before the block and after it, whatever happens."""
    fresh(r, *names)
    try:
        yield
    finally:
        fresh(r, *names)


def guard(check: Callable[..., str]) -> Callable[..., str]:
    """Turn NotImplementedError / NotDone raised by the student's skeleton into "not done yet"."""
    import functools

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> str:
        try:
            return check(*args, **kwargs)
        except NotDone as exc:
            return not_done(str(exc))
        except NotImplementedError as exc:
            if str(exc):
                return not_done(_("part of the skeleton still raises NotImplementedError ({what}); write it, "
                                  "run its cell, then run this check again.").format(what=exc))
            return not_done(_("part of the skeleton still raises NotImplementedError; write it, run its cell, "
                              "then run this check again."))

    return run


def record_of(entry: Any) -> dict[str, Any]:
    """A delivered job as a dict, whether the student's dequeue returned a dict, str or bytes."""
    if isinstance(entry, dict):
        return entry
    if isinstance(entry, (bytes, str)):
        try:
            value = json.loads(entry)
        except ValueError:
            raise fail(_("dequeue returned {entry!r:.60}, which is not the JSON of a job").format(entry=entry)) \
                from None
        if isinstance(value, dict):
            return value
    raise fail(_("dequeue returned {entry!r:.60} ({kind}); expected the job (a dict, or its JSON text) or None")
               .format(entry=entry, kind=type(entry).__name__))


class TimedOut(Exception):
    """A student's call had not returned by its deadline (see `within`)."""


def within(deadline: float, call: Callable[[], Any], wake: Callable[[], Any]) -> Any:
    """call() in a thread the check waits for at most `deadline` s; its value, or its exception re-raised.

    Past the deadline (a dequeue blocking for ever: BRPOP or BZPOPMIN with timeout 0) it calls wake()
    (pushes one entry, so the blocked client returns and no connection stays blocked) and raises TimedOut,
    which the check turns into its sentence: a check never hangs its cell."""
    import threading

    reply: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reply.append(call())
        except BaseException as exc:  # re-raised in the check's own thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(deadline)
    if thread.is_alive():
        wake()
        thread.join(2)
        raise TimedOut()
    if errors:
        raise errors[0]
    return reply[0]


def job_ids(entries: list[Any]) -> list[str]:
    """The ids of delivered jobs."""
    return [str(record_of(e).get("id")) for e in entries]


def jobs(n: int, prefix: str = "job", **extra: Any) -> list[dict[str, Any]]:
    """`n` job records {"id": "job-00", "type": "work", "n": 0, ...}, as the harness enqueues them."""
    return [{"id": f"{prefix}-{i:02d}", "type": "work", "n": i, **extra} for i in range(n)]


def said(items: list[Any], limit: int = 6) -> str:
    """A short, readable list: 'job-02, job-01, job-00' (… when longer)."""
    shown = ", ".join(str(x) for x in items[:limit])
    return shown + (", …" if len(items) > limit else "")


# the checks, one module per notebook
from .cron import next_runs, weekday_cron  # noqa: E402
from .delayed import due_prediction, my_scheduler  # noqa: E402
from .monitoring import monitored_queue, p95_bucket  # noqa: E402
from .others import add_once, duplicates_per_kill, round_trips, where_after_failures  # noqa: E402
from .practices import guarded_handler  # noqa: E402
from .priority import my_priority_queue, score_exercise  # noqa: E402
from .reliable import my_recovery, my_reliable_queue, twice_prediction  # noqa: E402
from .retries import bull_policy, my_backoff  # noqa: E402
from .simple import crash_after_prediction, my_queue  # noqa: E402

__all__ = ["NOT_DONE", "PASSED", "CheckFailed", "add_once", "duplicates_per_kill", "round_trips", "where_after_failures", "bull_policy", "crash_after_prediction", "due_prediction", "guarded_handler",
           "monitored_queue", "my_backoff", "my_priority_queue", "my_queue", "my_scheduler", "next_runs",
           "my_recovery", "my_reliable_queue", "p95_bucket", "score_exercise", "twice_prediction", "weekday_cron"]
