"""The notebook's control panel for a live benchmark run (imports ipywidgets; never loaded by the CLI).

The container has the CSS class `lq-panel`; the progress bar and the status line, which change
while the benchmark runs, have `lq-live`.
"""

from __future__ import annotations

from typing import Any

from ..lab.i18n import _


class BenchPanel:
    """Controls (N, threads, prefetch) and a live progress bar + status line for `run(progress=...)`."""

    def __init__(self, n: int = 200, threads: int = 2, prefetch: int = 20) -> None:
        import ipywidgets as w

        self.n = w.IntSlider(value=n, min=50, max=2000, step=50, description=_("N jobs"))
        self.threads = w.IntSlider(value=threads, min=1, max=8, description=_("threads"))
        self.prefetch = w.IntSlider(value=prefetch, min=1, max=200, description=_("prefetch"))
        self.bar = w.FloatProgress(value=0, min=0, max=1, description=_("benchmark"))
        self.status = w.Label(value=_("not started"))
        for widget in (self.bar, self.status):
            widget.add_class("lq-live")
        self.box = w.VBox([w.HBox([self.n, self.threads, self.prefetch]), w.HBox([self.bar, self.status])])
        self.box.add_class("lq-panel")

    def progress(self, label: str, done: int, total: int) -> None:
        """The `progress` callback of `labqueue.bench.run`: moves the bar, names the step."""
        self.bar.value = min(1.0, done / max(1, total - 1))
        self.status.value = label

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def options(self) -> dict[str, Any]:
        return {"n": self.n.value, "threads": self.threads.value, "prefetch": self.prefetch.value}
