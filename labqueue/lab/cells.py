"""What each notebook cell started, so that re-running the cell, interrupting it or restarting the
kernel stops it: no worker, listener, chart, server or process outlives the cell that owns it.

Everything that runs in the background (workers, event listeners, schedulers, panels, samplers,
charts, dashboards, HTTP servers, redis-server and worker processes) calls
`labqueue._running.started(obj, stop)` when it starts. Inside an IPython kernel this module files it
under the cell being run (the cell id JupyterLab sends, else the cell's text). Then:

- when that cell runs again, what its previous run started is stopped first;
- when the cell ends with an exception, KeyboardInterrupt included, what it started is stopped;
- at kernel shutdown or restart (atexit), everything still running is stopped.

Things started between cells (a panel's "start" button) are stopped at shutdown. Outside a kernel
nothing is recorded. Redis structures touched: none.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from .. import _running

__all__ = ["install", "running", "stop_all", "stop_cell"]

log = logging.getLogger(__name__)
_BETWEEN = "(between cells)"

_lock = threading.Lock()
_started: dict[str, list[tuple[Any, Callable[[], None]]]] = {}
_current: str | None = None
_installed = False


def _record(obj: Any, stop: Callable[[], None]) -> None:
    with _lock:
        _started.setdefault(_current or _BETWEEN, []).append((obj, stop))


def running() -> dict[str, list[str]]:
    """Per cell key, the type names of what it started and has not been stopped."""
    with _lock:
        return {k: [type(o).__name__ for o, _ in v] for k, v in _started.items() if v}


def stop_cell(key: str) -> int:
    """Stop what the cell `key` started, newest first; returns how many things were stopped."""
    with _lock:
        entries = _started.pop(key, [])
    for obj, stop in reversed(entries):
        try:
            stop()
        except Exception:  # one thing failing to stop must not keep the others running
            log.exception("stopping %s failed", type(obj).__name__)
    return len(entries)


def stop_all() -> None:
    """Stop everything every cell started (kernel shutdown or restart)."""
    for key in list(_started):
        stop_cell(key)


def _key(info: Any) -> str:
    cell_id = getattr(info, "cell_id", None)
    if cell_id:
        return f"cell {cell_id}"
    raw = getattr(info, "raw_cell", "") or ""
    return "source " + hashlib.sha1(raw.encode()).hexdigest()[:12]


def _running_cell(shell: Any) -> str | None:
    """The key of the cell the kernel is running now (JupyterLab's cellId, else its text)."""
    try:
        cell_id = (shell.parent_header.get("metadata") or {}).get("cellId")
        if cell_id:
            return f"cell {cell_id}"
        raw = shell.history_manager.input_hist_raw[-1]
        return "source " + hashlib.sha1(raw.encode()).hexdigest()[:12]
    except Exception:  # not inside a cell's execution
        return None


def _pre_run_cell(info: Any) -> None:
    global _current
    key = _key(info)
    stop_cell(key)  # what the previous run of this cell started
    _current = key


def _post_run_cell(result: Any) -> None:
    global _current
    key, _current = _current, None
    failed = getattr(result, "error_in_exec", None) is not None or \
        getattr(result, "error_before_exec", None) is not None
    if failed and key is not None:
        stop_cell(key)  # interrupted or failed: nothing it started keeps running


def install() -> bool:
    """Listen to what starts, file it per cell (inside an IPython kernel only); True when installed."""
    global _installed
    if _installed:
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    global _current
    _current = _current or _running_cell(shell)  # installed from inside a cell: that cell owns it
    shell.events.register("pre_run_cell", _pre_run_cell)
    shell.events.register("post_run_cell", _post_run_cell)
    atexit.register(stop_all)
    _running.listen(_record)
    _installed = True
    return True
