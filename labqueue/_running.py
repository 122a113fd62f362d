"""Who started what: the one hook through which background work (worker threads, listeners,
schedulers, servers, processes) announces itself, so a notebook can stop, per cell, what a cell
started (see labqueue.lab.cells). In plain Python nobody listens and `started` does nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

Listener = Callable[[Any, Callable[[], None]], None]
_listener: Listener | None = None
_looked = False


def listen(listener: Listener | None) -> None:
    """Install (or remove, with None) the function told of everything started from now on."""
    global _listener
    _listener = listener


def started(obj: Any, stop: Callable[[], None]) -> None:
    """`obj` now runs in the background; `stop()` stops it and waits (bounded) until it has."""
    global _looked
    if _listener is None and not _looked and "IPython" in sys.modules:
        _looked = True  # inside a notebook kernel: the lab's per-cell registry listens
        try:
            from .lab import cells

            cells.install()
        except Exception:  # not a kernel after all (IPython imported by something else)
            pass
    if _listener is not None:
        _listener(obj, stop)


def join(thread: Any, timeout: float | None = None, poll: float = 0.02) -> bool:
    """Wait until `thread` ends (at most `timeout` s); True when it has.

    Unlike Thread.join, a KeyboardInterrupt during the wait leaves the thread's state intact (on
    CPython before 3.13, an interrupted join() marks a still-running thread as finished).
    """
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while thread.is_alive():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
