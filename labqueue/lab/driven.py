"""The driver of the topic experiments of notebooks 03-09: a producer, a worker pool and a live
sampler (from `experiments` and `live`), run by one background thread that feeds a ControlPanel.

A subclass builds `producer`, `pool` and `sampler` in its constructor and says when it is `done()`;
`Driven` speaks the panel's protocol (`start`, `stop`, `running`, `wait`, `crash_now`, `pool`,
`producer`), joins every thread when it ends and keeps the subclass's `outcome()` in `result`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .. import _running
from .i18n import Number, _


class Feed:
    """Something a `Producer` can enqueue into: `Feed(lambda data, job_id: q.enqueue(data, priority=1, job_id=job_id))`."""

    def __init__(self, enqueue: Callable[[dict[str, Any], str], str]) -> None:
        self.enqueue = enqueue


class Driven:
    """Producer + worker pool + sampler, driven from a background thread until `done()`."""

    max_seconds: float = 15.0

    def __init__(self) -> None:
        self.producer: Any = None
        self.pool: Any = None
        self.sampler: Any = None
        self.panel: Any = None
        self.result: Any = None
        self.t0 = 0.0
        self.seconds = 0.0
        self.stopped_early = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drive, name=type(self).__name__, daemon=True)

    # -- what a subclass provides ---------------------------------------------------------------
    def setup(self) -> None:
        """Before any thread starts (enqueue initial jobs, start a scheduler...)."""

    def on_tick(self) -> None:
        """Called by the driver thread about every 50 ms while the experiment runs."""

    def done(self) -> bool:
        """True when the experiment is over."""
        raise NotImplementedError

    def progress(self) -> dict[str, int]:
        """Counters for the panel; `completed` drives its progress bar."""
        return {}

    total: int = 1  # what `completed` counts up to

    def teardown(self) -> None:
        """After the producer and the workers stopped (stop a scheduler...)."""

    def outcome(self) -> Any:
        """The experiment's result, computed once every thread has been joined."""
        return None

    # -- the panel protocol -----------------------------------------------------------------------
    def start(self) -> Driven:
        """Set up, start sampler, workers, producer and the driver thread; return at once."""
        self.t0 = time.time()
        self.setup()
        if self.sampler is not None:
            self.sampler.start()
        if self.pool is not None:
            self.pool.start()
        if self.producer is not None:
            self.producer.start()
        self._thread.start()
        _running.started(self, self._stop_and_join)
        return self

    def _stop_and_join(self) -> None:
        self._stop.set()
        _running.join(self._thread, 15)

    def stop(self) -> None:
        """End early (the driver thread still joins everything)."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> Any:
        """Join the driver thread and return `result`."""
        _running.join(self._thread, timeout)
        if self._thread.is_alive():
            raise TimeoutError("the experiment is still running")
        return self.result

    def run(self) -> Any:
        """start() then wait()."""
        return self.start().wait()

    def crash_now(self) -> str | None:
        """Kill one worker of the pool mid-job; returns its name."""
        return self.pool.crash_one() if self.pool is not None else None

    def _update_panel(self, status: str) -> None:
        if self.panel is not None:
            self.panel.show_progress(self.progress(), self.total, status)

    def _drive(self) -> None:
        deadline = self.t0 + self.max_seconds
        try:
            while True:
                self.on_tick()
                self._update_panel(_("running"))
                if self._stop.wait(0.05) or time.time() > deadline:
                    self.stopped_early = True
                    break
                if self.done():
                    break
        finally:
            if self.producer is not None:
                self.producer.stop()
            if self.pool is not None:
                self.pool.stop()
            self.teardown()
            if self.sampler is not None:
                self.sampler.stop()
            self.seconds = time.time() - self.t0
            self.result = self.outcome()
            self._update_panel(_("stopped early") if self.stopped_early
                               else _("done in {seconds:.1f} s").format(seconds=Number(self.seconds)))


def beside(diagram: str, table: Any, *, left: str | None = None, right: str | None = None) -> Any:
    """The chapter's diagram and a table (a traced client's commands) side by side, as static HTML.

    A `Tracer.table()` carries the Lua scripts each operation ran (`attrs["lua"]`): their source is shown
    below, syntax-highlighted. Headings (`left`, `right`) default to "the chapter" and "what labqueue
    sends", in the language in use.
    """
    import html

    from IPython.display import HTML

    from . import lua

    left = _("the chapter") if left is None else left
    right = _("what labqueue sends") if right is None else right
    body = table.to_html(index=False) if hasattr(table, "to_html") else f"<pre>{html.escape(str(table))}</pre>"
    return HTML(
        "<table style='border:none'><tr>"
        f"<th style='text-align:left'>{html.escape(left)}</th><th style='text-align:left'>{html.escape(right)}</th></tr>"
        f"<tr><td style='vertical-align:top;text-align:left'><pre style='font-size:11px;white-space:pre;text-align:left'>{html.escape(diagram)}</pre></td>"
        f"<td style='vertical-align:top'>{body}</td></tr></table>"
        + lua.html_for(getattr(table, "attrs", {}).get("lua", {})))
