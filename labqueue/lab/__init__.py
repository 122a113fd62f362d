"""Notebook helpers of the lab: control panels, live samplers and plots, traced clients, workload
drivers with crash injection, and the chapter's buggy reliable queue kept as a pitfall.

These may import pandas, matplotlib and ipywidgets; `import labqueue` never imports this package.
Import the submodules you need: `from labqueue.lab import trace, live, panel, experiments, pitfalls`.
"""

from __future__ import annotations

__all__ = ["experiments", "live", "panel", "pitfalls", "trace"]
