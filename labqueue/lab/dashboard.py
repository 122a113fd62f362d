"""A live dashboard for a JobQueue, in the spirit of Bull Board, made of ipywidgets.

Counts per state, a throughput / latency chart, the latest failed jobs with their errors, and
buttons (pause, resume, retry failed, clean) that act on Redis. A thread refreshes it every
`refresh` seconds by setting widget values only (never printing). The container has the CSS class
`lq-panel`, the values that change live `lq-live`. The same dashboard runs as a standalone page
with Voila: `.venv/bin/voila notebooks/dashboard.ipynb`.

`DemoTraffic` feeds a queue for a demo: a producer thread adding jobs at a steady rate, a share of
them flaky, and the queue's workers processing them.

Everything it shows is in the language in use (labqueue.lab.i18n); the states and the buttons' action
names stay English where code reads them (`counts["waiting"]`, `act("pause")`).
"""

from __future__ import annotations

import html
import random
import threading
import time
from typing import Any

import ipywidgets as widgets

from .. import _running
from ..jobqueue import JobQueue
from ..metrics import QueueMetrics
from .i18n import N_, Number, _, ngettext, number
from .live import render_png, translated

STATE_COLOURS = {"waiting": "#1f77b4", "active": "#ff7f0e", "delayed": "#9467bd", "completed": "#2ca02c",
                 "failed": "#d62728", "paused": "#7f7f7f"}
STATE_LABELS = {"waiting": N_("waiting"), "active": N_("active"), "delayed": N_("delayed"),
                "completed": N_("completed"), "failed": N_("failed"), "paused": N_("paused")}


class Dashboard:
    """`Dashboard(queue).start()`; display `dashboard.box`; `stop()` joins the refresh thread."""

    def __init__(self, queue: JobQueue, *, refresh: float = 0.5, history: int = 120, failed_rows: int = 8) -> None:
        self.queue = queue
        self.metrics = QueueMetrics(queue.redis, queue.name)
        self.refresh_seconds = refresh
        self.history = history
        self.failed_rows = failed_rows
        self.samples: list[tuple[float, int, int, float]] = []  # (t, succeeded, failed, total ms)
        self.counts: dict[str, int] = {}
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.count_labels = {s: self._live(widgets.HTML(value=self._badge(s, 0))) for s in STATE_COLOURS}
        self.rates = self._live(widgets.HTML(value=""))
        self.chart = self._live(widgets.Image(format="png", layout=widgets.Layout(width="560px")))
        self.failed_table = self._live(widgets.HTML(value=self._failed_html([])))
        self.status = self._live(widgets.Label(value=_("ready")))
        self.grace = widgets.FloatText(value=0.0, description=_("clean older than (s)"),
                                       style={"description_width": "160px"}, layout=widgets.Layout(width="260px"))
        self.buttons = {  # keys: the actions act() takes; descriptions: what the student reads
            "pause": widgets.Button(description=_("pause"), icon="pause", button_style="warning"),
            "resume": widgets.Button(description=_("resume"), icon="play", button_style="success"),
            "retry failed": widgets.Button(description=_("retry failed"), icon="redo", button_style="info"),
            "clean": widgets.Button(description=_("clean"), icon="trash", button_style="danger"),
        }
        title = _("queue {name}").format(name=f"<code>{html.escape(queue.name)}</code>")
        for name, button in self.buttons.items():
            button.on_click(lambda _b, name=name: self.act(name))
        self.box = widgets.VBox([
            widgets.HTML(value=f"<h3>{title}</h3>"),
            widgets.HBox(list(self.count_labels.values())),
            self.rates,
            self.chart,
            widgets.HBox([*self.buttons.values(), self.grace]),
            self.status,
            widgets.HTML(value="<b>" + html.escape(_("latest failed jobs")) + "</b>"),
            self.failed_table,
        ])
        self.box.add_class("lq-panel")

    @staticmethod
    def _live(widget: Any) -> Any:
        widget.add_class("lq-live")
        return widget

    @staticmethod
    def _badge(state: str, n: int) -> str:
        return (f"<div style='padding:4px 10px;margin:2px;border-radius:6px;color:white;"
                f"background:{STATE_COLOURS[state]}'>{html.escape(translated(STATE_LABELS[state]))}<br>"
                f"<b style='font-size:1.4em'>{n}</b></div>")

    # -- actions -------------------------------------------------------------------------------
    def act(self, action: str) -> str:
        """Run a button's action on Redis, refresh, and return the status line."""
        q = self.queue
        if action == "pause":
            q.pause()
            message = _("queue paused: workers finish the job in hand and take no new one")
        elif action == "resume":
            q.resume()
            message = _("queue resumed")
        elif action == "retry failed":
            n = q.retry_failed()
            message = ngettext("{n} failed job moved back to waiting", "{n} failed jobs moved back to waiting",
                               n).format(n=n)
        elif action == "clean":
            grace = max(float(self.grace.value), 0.0)
            n = len(q.clean(grace, "completed")) + len(q.clean(grace, "failed"))
            message = ngettext("{n} finished job older than {grace:g} s removed",
                               "{n} finished jobs older than {grace:g} s removed", n).format(n=n, grace=Number(grace))
        else:
            raise ValueError(f"unknown action {action!r}: use one of {', '.join(self.buttons)}")
        self.status.value = message
        self.refresh()
        return message

    # -- refreshing ----------------------------------------------------------------------------
    def refresh(self) -> dict[str, int]:
        """Read counts, metrics and failed jobs from Redis and update every widget."""
        with self._lock:
            raw, _sizes = self.metrics.read()
            counts = self.queue.get_job_counts()
            failed = self.queue.get_failed(0, self.failed_rows - 1)
            self.counts = counts
            for state, label in self.count_labels.items():
                label.value = self._badge(state, counts[state])
            self.samples.append((time.time(), int(raw.get("total_succeeded", 0)), int(raw.get("total_failed", 0)),
                                 float(raw.get("total_duration_ms", 0))))
            del self.samples[:-self.history]
            self.rates.value = self._rates_text()
            self.failed_table.value = self._failed_html(failed)
            if len(self.samples) >= 2:
                self.chart.value = render_png(self.figure())
            return counts

    def series(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """Per interval: times (s), completed/s, failed/s, average latency (ms) of the jobs completed."""
        t0 = self.samples[0][0] if self.samples else 0.0
        ts, ok, bad, lat = [], [], [], []
        for (t1, s1, f1, d1), (t2, s2, f2, d2) in zip(self.samples, self.samples[1:]):
            dt = max(t2 - t1, 1e-6)
            ts.append(t2 - t0)
            ok.append((s2 - s1) / dt)
            bad.append((f2 - f1) / dt)
            lat.append((d2 - d1) / (s2 - s1) if s2 > s1 else float("nan"))
        return ts, ok, bad, lat

    def _rates_text(self) -> str:
        _times, ok, bad, lat = self.series()
        if not ok:
            return ""
        recent = [x for x in lat[-5:] if x == x]
        latency = number(sum(recent) / len(recent), ".1f") + " ms" if recent else "-"
        return _("throughput <b>{throughput:.1f}</b> jobs/s · failures <b>{failures:.1f}</b>/s · "
                 "latency <b>{latency}</b>").format(throughput=Number(sum(ok[-5:]) / len(ok[-5:])),
                                                    failures=Number(sum(bad[-5:]) / len(bad[-5:])), latency=latency)

    def _failed_html(self, failed: list[Any]) -> str:
        if not failed:
            return "<i>" + html.escape(_("no failed jobs")) + "</i>"
        rows = "".join(
            f"<tr><td>{html.escape(j.id)}</td><td>{html.escape(j.name)}</td><td>{j.attempts_made}</td>"
            f"<td style='color:#d62728'>{html.escape(j.failed_reason or '')}</td></tr>" for j in failed)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in (_("id"), _("name"), _("attempts"), _("error")))
        return f"<table><tr>{head}</tr>{rows}</table>"

    def figure(self) -> Any:
        """Throughput (completed and failed per second) and average latency over the last samples."""
        from matplotlib.figure import Figure

        ts, ok, bad, lat = self.series()
        fig = Figure(figsize=(7, 2.6))
        fig.subplots_adjust(left=0.09, right=0.89, bottom=0.18, top=0.9)
        ax = fig.add_subplot()
        ax.plot(ts, ok, color=STATE_COLOURS["completed"], label=_("completed / s"))
        ax.plot(ts, bad, color=STATE_COLOURS["failed"], label=_("failed / s"))
        ax.set_xlabel(_("seconds"))
        ax.set_ylabel(_("jobs / s"))
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(ts, lat, color="black", linestyle=":", label=_("latency (ms)"))
        ax2.set_ylabel("ms")
        ax2.set_ylim(bottom=0)
        handles = ax.get_legend_handles_labels()
        more = ax2.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
        return fig

    def start(self) -> Dashboard:
        """Refresh every `refresh` seconds from a background thread."""
        self._stop.clear()
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="dashboard", daemon=True)
        self._thread.start()
        _running.started(self, self._stop_if_running)
        return self

    def _stop_if_running(self) -> None:
        if self._thread is not None:
            self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception as exc:  # shown in the status line, never a silent dead thread
                self.error = f"{type(exc).__name__}: {exc}"
                self.status.value = _("refresh failed: {error}").format(error=self.error)

    def stop(self) -> None:
        """Stop refreshing (a last refresh first) and join the thread."""
        self._stop.set()
        if self._thread is not None:
            _running.join(self._thread, 10)
            self._thread = None
        self.refresh()


class DemoTraffic:
    """Adds `rate` jobs/s to a queue for `seconds` (a `flaky` share of them fail) and processes them."""

    def __init__(self, queue: JobQueue, *, rate: float = 40.0, seconds: float = 5.0, flaky: float = 0.15,
                 work_ms: float = 20.0, concurrency: int = 4, seed: int = 7) -> None:
        self.queue, self.rate, self.seconds, self.flaky = queue, rate, seconds, flaky
        self.work_ms, self.concurrency = work_ms, concurrency
        self.rng = random.Random(seed)
        self.added = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def handler(self, job: Any) -> dict[str, Any]:
        """The demo job: sleeps about work_ms, reports progress; a flaky one raises."""
        time.sleep(job.data["ms"] / 1000)
        job.progress(100)
        if job.data["flaky"]:
            raise ConnectionError(_("SMTP timeout (demo)"))
        return {"sent": True}

    def start(self) -> DemoTraffic:
        """Register the handler, start the workers and the producer thread."""
        if self.queue.worker is None or "demo" not in self.queue.handlers:
            self.queue.process("demo", self.handler, concurrency=self.concurrency, poll_seconds=0.1)
        self._stop.clear()
        self._thread = threading.Thread(target=self._produce, name="demo-producer", daemon=True)
        self._thread.start()
        _running.started(self, self.stop)
        return self

    def _produce(self) -> None:
        end = time.monotonic() + self.seconds
        while not self._stop.is_set() and time.monotonic() < end:
            ms = self.rng.expovariate(1 / self.work_ms)
            self.queue.add("demo", {"ms": round(ms, 2), "flaky": self.rng.random() < self.flaky})
            self.added += 1
            self._stop.wait(1 / self.rate)

    def join(self) -> None:
        """Wait for the producer to finish, then for the queue to drain."""
        if self._thread is not None:
            _running.join(self._thread)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            c = self.queue.get_job_counts()
            if c["waiting"] == 0 and c["active"] == 0:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop producing now and join the producer."""
        self._stop.set()
        if self._thread is not None:
            _running.join(self._thread, 10)
