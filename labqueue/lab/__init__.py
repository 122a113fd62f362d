"""Notebook helpers of the lab: control panels, live samplers and plots, traced clients, workload
drivers with crash injection, and the chapter's buggy reliable queue kept as a pitfall; the source
of the Lua a traced operation ran (`lua`), the chapter's own lines behind each pitfall (`chapter`), and
the static HTML pages of `make html` (`render`).

These may import pandas, matplotlib and ipywidgets; `import labqueue` never imports this package.
Import the submodules you need: `from labqueue.lab import trace, live, panel, experiments, pitfalls`.
"""

from __future__ import annotations

__all__ = ["chapter", "experiments", "live", "lua", "panel", "pitfalls", "render", "trace"]
