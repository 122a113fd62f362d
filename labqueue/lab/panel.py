"""The control panel of an experiment: ipywidgets whose defaults let a notebook run unattended.

`ControlPanel(workers=3, rate=40, crash_probability=0.1, jobs=60)` shows sliders (workers, arrival
rate, crash probability, jobs), buttons (start, stop, crash a worker now), a progress bar, a status
line and counters. The container has the CSS class `lq-panel`; the widgets that change during a run
have `lq-live`. `panel.launch(factory)` builds an experiment from the current values with
`factory(values)`, starts it in the background and displays the panel with its live chart; the
buttons act on it while it runs (the kernel is idle between cells). `panel.wait()` joins it.
Threads only ever set widget values; nothing prints from a thread.

Labels, buttons, status and counters speak the language in use (labqueue.lab.i18n); the counters'
names are the experiment's `progress()` keys (English, read by code), translated where shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from . import live  # noqa: F401  matplotlib loads with this module: an interrupt later never leaves it half-imported
from .i18n import _
from .live import translated


def live(widget: Any) -> Any:
    """Tag a widget whose value changes during a run (CSS class `lq-live`); returns it."""
    widget.add_class("lq-live")
    return widget


def progress_bar(total: int, description: str | None = None) -> Any:
    """An IntProgress from 0 to `total`, tagged `lq-live`; threads set `.value` (description: "progress")."""
    return live(widgets.IntProgress(value=0, min=0, max=max(int(total), 1),
                                    description=_("progress") if description is None else description,
                                    bar_style="info"))


class ControlPanel:
    """Sliders, buttons, progress and counters driving one experiment at a time."""

    def __init__(self, *, workers: int = 3, rate: float = 40.0, crash_probability: float = 0.0,
                 jobs: int = 60, title: str | None = None, max_workers: int = 8) -> None:
        style = {"description_width": "150px"}  # the French labels are longer
        self.workers = widgets.IntSlider(value=workers, min=1, max=max_workers, description=_("workers"),
                                         style=style)
        self.rate = widgets.FloatSlider(value=rate, min=1, max=400, step=1, description=_("arrivals / s"),
                                        style=style)
        self.crash_probability = widgets.FloatSlider(value=crash_probability, min=0, max=0.5, step=0.01,
                                                     description=_("crash probability"), style=style)
        self.jobs = widgets.IntSlider(value=jobs, min=5, max=1000, description=_("jobs"), style=style)
        self.start_button = widgets.Button(description=_("start"), icon="play", button_style="success")
        self.stop_button = widgets.Button(description=_("stop"), icon="stop", button_style="warning")
        self.crash_button = widgets.Button(description=_("crash a worker now"), icon="bolt",
                                           button_style="danger",
                                           layout=widgets.Layout(width="auto"))
        self.progress = progress_bar(jobs, _("done"))
        self.status = live(widgets.Label(value=_("ready")))
        self.counters = live(widgets.HTML(value=""))
        self.chart = widgets.Box()
        self._crash_shown = False  # the status line says a crash was ordered: "running" does not hide it
        title = _("experiment") if title is None else title
        title_widget = widgets.HTML(value=f"<b>{title}</b>")
        self.box = widgets.VBox([
            title_widget,
            widgets.HBox([widgets.VBox([self.workers, self.rate]),
                          widgets.VBox([self.crash_probability, self.jobs])]),
            widgets.HBox([self.start_button, self.stop_button, self.crash_button]),
            widgets.HBox([self.progress, self.status]),
            self.counters,
            self.chart,
        ])
        self.box.add_class("lq-panel")
        self.experiment: Any = None
        self._factory: Callable[[dict[str, Any]], Any] | None = None
        self.start_button.on_click(lambda _: self._restart())
        self.stop_button.on_click(lambda _: self.stop())
        self.crash_button.on_click(lambda _: self.crash_now())
        self.workers.observe(self._on_workers, names="value")
        self.crash_probability.observe(self._on_crash_probability, names="value")
        self.rate.observe(self._on_rate, names="value")

    def values(self) -> dict[str, Any]:
        """The current settings: workers, rate, crash_probability, jobs."""
        return {"workers": self.workers.value, "rate": self.rate.value,
                "crash_probability": self.crash_probability.value, "jobs": self.jobs.value}

    # -- running -------------------------------------------------------------------------------
    def launch(self, factory: Callable[[dict[str, Any]], Any], display: bool = True) -> Any:
        """Build an experiment with `factory(values)`, start it, display the panel; returns it."""
        self._factory = factory
        if display:
            from IPython.display import display as show

            show(self.box)
        return self._start()

    def _start(self) -> Any:
        assert self._factory is not None
        experiment = self._factory(self.values())
        experiment.panel = self
        self.progress.max = max(int(self.jobs.value), 1)
        self.progress.value = 0
        sampler = getattr(experiment, "sampler", None)
        self.chart.children = [sampler.widget] if sampler is not None and sampler.widget is not None else []
        self.experiment = experiment
        return experiment.start()

    def _restart(self) -> None:
        if self._factory is None or (self.experiment is not None and self.experiment.running):
            return
        self._start()

    def wait(self) -> Any:
        """Join the running experiment and return its Result."""
        if self.experiment is None:
            raise RuntimeError("nothing launched: call panel.launch(factory) first")
        return self.experiment.wait()

    def stop(self) -> None:
        """Stop the running experiment early."""
        if self.experiment is not None:
            self.experiment.stop()

    def crash_now(self) -> None:
        """Kill one worker of the running experiment mid-job."""
        if self.experiment is not None and self.experiment.running:
            name = self.experiment.crash_now()
            self.status.value = (_("crash ordered for {name}").format(name=name) if name
                                 else _("no live worker to crash"))
            self._crash_shown = bool(name)

    def _on_workers(self, change: dict[str, Any]) -> None:
        if self.experiment is not None and self.experiment.running:
            self.experiment.pool.resize(int(change["new"]))

    def _on_crash_probability(self, change: dict[str, Any]) -> None:
        if self.experiment is not None and self.experiment.running:
            self.experiment.pool.set_crash_probability(float(change["new"]))

    def _on_rate(self, change: dict[str, Any]) -> None:
        if self.experiment is not None and self.experiment.running and not callable(self.experiment.producer.rate):
            self.experiment.producer.rate = float(change["new"])

    # -- called from the experiment's thread: set values only ---------------------------------
    def show_progress(self, counts: dict[str, int], total: int, status: str) -> None:
        """Set the progress bar, status and counters (safe from a thread: values only).

        `status` is shown as given (the driver translates it); `counts`' keys are translated here.
        """
        self.progress.max = max(int(total), 1)
        self.progress.value = min(int(counts.get("completed", 0)), self.progress.max)
        if not (self._crash_shown and status == _("running")):
            self.status.value = status
            self._crash_shown = False
        self.counters.value = " · ".join(_("{label}: <b>{value}</b>").format(label=translated(k), value=v)
                                         for k, v in counts.items())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
