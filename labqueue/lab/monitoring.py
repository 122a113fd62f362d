"""Notebook 07's live charts: throughput, latency and success rate of a JobQueue, from its metrics.

`MonitorChart(r, "emails").start()` samples `QueueMetrics.read()` (one MULTI) every `interval`
seconds in a thread and redraws three panels into an ipywidgets Image (CSS class `lq-live`) every
`redraw` seconds: jobs completed and failed per second, the average latency of the jobs completed
in each interval, and the success rate of the attempts finished in each interval. `stop()` joins
the thread; `frame()` is a pandas DataFrame of the intervals (English column names, read by code);
the chart's labels are in the language in use (labqueue.lab.i18n).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .. import _running
from ..metrics import QueueMetrics
from .i18n import _
from .live import render_png


class MonitorChart:
    """Samples a queue's metrics hash and draws throughput / latency / success rate live."""

    def __init__(self, redis_client: Any, queue_name: str, *, interval: float = 0.25, redraw: float = 0.8,
                 live: bool = True) -> None:
        self.metrics = QueueMetrics(redis_client, queue_name)
        self.interval, self.redraw = interval, redraw
        self.rows: list[dict[str, float]] = []
        self.t0 = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.widget: Any = None
        if live:
            import ipywidgets as widgets

            self.widget = widgets.Image(format="png", layout=widgets.Layout(width="720px"))
            self.widget.add_class("lq-live")

    def sample(self) -> None:
        """One snapshot of the cumulative counters and the waiting size."""
        raw, sizes = self.metrics.read()
        self.rows.append({"t": time.time() - self.t0, "succeeded": int(raw.get("total_succeeded", 0)),
                          "failed": int(raw.get("total_failed", 0)),
                          "duration_ms": float(raw.get("total_duration_ms", 0)), "waiting": sizes["waiting"]})

    def start(self) -> MonitorChart:
        self.t0 = time.time()
        self.rows = []
        self.sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="monitor-chart", daemon=True)
        self._thread.start()
        _running.started(self, self._stop_if_running)
        return self

    def _stop_if_running(self) -> None:
        if self._thread is not None:
            self.stop()

    def _run(self) -> None:
        last_draw = time.monotonic()
        while not self._stop.wait(self.interval):
            self.sample()
            if self.widget is not None and time.monotonic() - last_draw >= self.redraw:
                self.widget.value = render_png(self.figure())
                last_draw = time.monotonic()

    def stop(self) -> None:
        """Stop sampling, take a last sample, join the thread, draw the final chart."""
        self._stop.set()
        if self._thread is not None:
            _running.join(self._thread, 10)
            self._thread = None
        self.sample()
        if self.widget is not None:
            self.widget.value = render_png(self.figure())

    def frame(self) -> Any:
        """Per interval: completed/s, failed/s, latency_ms (mean of jobs completed), success_%, waiting."""
        import pandas as pd

        df = pd.DataFrame(self.rows).set_index("t")
        dt = pd.Series(df.index, index=df.index).diff()
        ok, bad = df["succeeded"].diff(), df["failed"].diff()
        out = pd.DataFrame({"completed_per_s": ok / dt, "failed_per_s": bad / dt,
                            "latency_ms": df["duration_ms"].diff() / ok.where(ok > 0),
                            "success_pct": 100 * ok / (ok + bad).where(ok + bad > 0),
                            "waiting": df["waiting"]})
        return out.iloc[1:]

    def figure(self) -> Any:
        """Three panels sharing the time axis."""
        from matplotlib.figure import Figure

        df = self.frame()
        fig = Figure(figsize=(9, 5.4))
        axes = fig.subplots(3, 1, sharex=True)
        fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.09, hspace=0.25)
        axes[0].plot(df.index, df["completed_per_s"], color="#2ca02c", label=_("completed / s"))
        axes[0].plot(df.index, df["failed_per_s"], color="#d62728", label=_("failed attempts / s"))
        axes[0].set_ylabel(_("throughput"))
        axes[0].legend(loc="upper left", fontsize=8)
        axes[1].plot(df.index, df["latency_ms"], color="black", marker=".", linestyle="-")
        axes[1].set_ylabel(_("latency (ms)"))
        axes[2].plot(df.index, df["success_pct"], color="#1f77b4", marker=".")
        axes[2].set_ylabel(_("success %"))
        axes[2].set_ylim(0, 105)
        axes[2].set_xlabel(_("seconds"))
        for ax in axes[:2]:
            ax.set_ylim(bottom=0)
        return fig


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Prometheus's histogram_quantile on cumulative (le, count) buckets: (value, bucket low, bucket high).

    As Prometheus does, it finds the first bucket whose count reaches q x total and interpolates
    linearly between that bucket's lower and upper bounds (observations assumed evenly spread).
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != float("inf"):
        raise ValueError("buckets must end with the +Inf bucket")
    total = buckets[-1][1]
    if total == 0:
        raise ValueError("no observations")
    rank = q * total
    low, below = 0.0, 0.0
    for i, (le, count) in enumerate(buckets):
        if count >= rank:
            if le == float("inf"):  # Prometheus returns the highest finite bound
                return buckets[i - 1][0], buckets[i - 1][0], le
            if count == below:
                return le, low, le
            return low + (le - low) * (rank - below) / (count - below), low, le
        low, below = le, count
    raise AssertionError("unreachable: the +Inf bucket holds every observation")

