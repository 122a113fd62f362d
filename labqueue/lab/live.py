"""A sampler thread and live plots: queue depth, DLQ size, throughput... over time.

`Sampler({"waiting": q.size, "dead": q.dlq_size}, rates={"throughput": "done"})` calls each probe
every `interval` seconds in one thread and keeps the samples; a second thread renders, every
`redraw` seconds, a matplotlib Figure (no pyplot: safe off the main thread) to PNG and sets it as
the value of an ipywidgets Image (`sampler.widget`, CSS class `lq-live`), which JupyterLab redraws
live. `stop()` takes a last sample and joins both threads; `frame()` is a pandas DataFrame, `show()` the final chart.

The probes' names are the DataFrame's columns (code reads them: keep them English); the chart shows
them through `translated()`, so a name marked with `N_()` where it is defined is drawn in the
student's language (labqueue.lab.i18n).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.figure  # noqa: F401  imported with this module (a notebook's first cell), never half-way
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.ticker import ScalarFormatter

from .. import _running
from .i18n import _, language
from .i18n import _ as _lookup  # a name marked with N_() elsewhere, looked up where it is shown

Probe = Callable[[], float]


def translated(name: str) -> str:
    """A name marked with `N_()` where it is defined (a probe, a column, an outcome), in the language in
    use; a name the catalogue lacks is shown as it is."""
    return _lookup(name) if name else name


class DecimalCommaFormatter(ScalarFormatter):
    """matplotlib's default tick labels (same ticks, same precision) with a decimal comma: 0,5 1,0 1,5."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", ",")


def decimal_commas(fig: Any) -> Any:
    """In French, the figure's default numeric tick labels get a decimal comma (matplotlib's
    axes.formatter.use_locale would need a French system locale); custom formatters are left alone."""
    if language() == "fr":
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                if type(axis.get_major_formatter()) is ScalarFormatter:
                    axis.set_major_formatter(DecimalCommaFormatter())
    return fig


def render_png(fig: Any, dpi: int = 80) -> bytes:
    """A matplotlib Figure as PNG bytes (Agg canvas, no pyplot), its ticks written as the lab's language
    writes numbers (decimal_commas)."""
    decimal_commas(fig)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def show_figure(fig: Any, dpi: int = 80) -> Any:
    """Display a Figure in the notebook as a PNG (works whatever the matplotlib backend)."""
    from IPython.display import Image, display

    display(Image(data=render_png(fig, dpi)))
    return None


class Sampler:
    """Samples probes over time in a thread and draws them live into an ipywidgets Image."""

    def __init__(self, probes: Mapping[str, Probe], *, rates: Mapping[str, str] | None = None,
                 interval: float = 0.1, redraw: float = 0.7, title: str = "", ylabel: str | None = None,
                 live: bool = True, size: tuple[float, float] = (7.0, 3.0),
                 marks: Sequence[tuple[float, str]] = ()) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.probes = dict(probes)
        self.rates = dict(rates or {})  # plotted name -> cumulative probe it is the per-second rate of
        self.interval = interval
        self.redraw = redraw
        self.title = title
        self.ylabel = ylabel  # None: "jobs", in the language in use when drawn
        self.size = size
        self.samples: list[dict[str, float]] = []
        self.marks: list[tuple[float, str]] = list(marks)  # (seconds, label): vertical lines
        self.t0 = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.error: str | None = None
        self.widget: Any = None
        if live:
            import ipywidgets as widgets

            self.widget = widgets.Image(format="png", layout=widgets.Layout(width=f"{int(size[0] * 80)}px"))
            self.widget.add_class("lq-live")
            render_png(self.figure([{"t": 0.0, **{name: 0.0 for name in self.probes}}]))  # warm up

    # -- sampling --------------------------------------------------------------------------------
    def sample(self) -> dict[str, float]:
        """Call every probe once and keep the values (with `t`, seconds since start)."""
        row = {"t": time.time() - self.t0}
        for name, probe in self.probes.items():
            row[name] = float(probe())
        self.samples.append(row)
        return row

    def mark(self, label: str) -> None:
        """Draw a vertical line labelled `label` at the current time."""
        self.marks.append((time.time() - self.t0, label))

    def start(self) -> Sampler:
        """Start sampling (and drawing, when live) in a thread."""
        self.t0 = time.time()
        self._stop.clear()
        self.sample()
        self._threads = [threading.Thread(target=self._run, name="sampler", daemon=True)]
        if self.widget is not None:
            self._threads.append(threading.Thread(target=self._draw_loop, name="sampler-draw", daemon=True))
        for t in self._threads:
            t.start()
        _running.started(self, self._stop_if_running)
        return self

    def _stop_if_running(self) -> None:
        if self._threads:
            self.stop()

    def stop(self) -> None:
        """Take a last sample, join the threads, draw the final chart into the widget."""
        self._stop.set()
        for t in self._threads:
            _running.join(t, 10)
        self._threads = []
        self.sample()
        self._draw()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception as exc:  # a probe failing must not kill the thread silently
                self.error = f"{type(exc).__name__}: {exc}"

    def _draw_loop(self) -> None:
        while not self._stop.wait(self.redraw):
            try:
                self._draw()
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"

    def _draw(self) -> None:
        if self.widget is not None and self.samples:
            self.widget.value = render_png(self.figure())

    # -- results ---------------------------------------------------------------------------------
    def frame(self, samples: Sequence[dict[str, float]] | None = None) -> Any:
        """The samples as a pandas DataFrame indexed by `t` (seconds), with the rate columns."""
        import pandas as pd

        df = pd.DataFrame(list(self.samples if samples is None else samples)).set_index("t")
        for name, source in self.rates.items():
            dt = pd.Series(df.index, index=df.index).diff()
            df[name] = (df[source].diff() / dt).fillna(0.0).rolling(3, min_periods=1).mean()
        return df

    def figure(self, samples: Sequence[dict[str, float]] | None = None) -> Any:
        """A matplotlib Figure of the samples (counts on the left axis, rates on the right)."""
        from matplotlib.figure import Figure

        df = self.frame(samples)
        fig = Figure(figsize=self.size)
        fig.subplots_adjust(left=0.09, right=0.9 if self.rates else 0.97, bottom=0.16, top=0.88)
        ax = fig.add_subplot()
        counts = [c for c in df.columns if c not in self.rates and c not in self.rates.values()]
        for column in counts:
            ax.plot(df.index, df[column], label=translated(str(column)), drawstyle="steps-post")
        ax.set_xlabel(_("seconds"))
        ax.set_ylabel(self.ylabel if self.ylabel is not None else _("jobs"))
        ax.set_ylim(bottom=0)
        if self.title:
            ax.set_title(self.title)
        for at, label in self.marks:
            ax.axvline(at, color="red", linestyle=":", linewidth=1)
            ax.annotate(translated(label), (at, 0), xytext=(3, 3), textcoords="offset points", color="red", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        if self.rates:
            ax2 = ax.twinx()
            for i, name in enumerate(self.rates):
                ax2.plot(df.index, df[name], label=translated(name), color=f"C{len(counts) + i}",
                         linestyle="--")
            ax2.set_ylabel(_("jobs / s"))
            ax2.set_ylim(bottom=0)
            more = ax2.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        if handles:
            ax.legend(handles, labels, loc="upper left", fontsize=8)
        return fig

    def show(self) -> None:
        """Display the final chart as a static image (it stays in the saved notebook)."""
        show_figure(self.figure())
