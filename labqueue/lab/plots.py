"""Static charts of the notebooks (matplotlib Figures, no pyplot), shown with `show(fig)`.

- `bars`: one bar per label (response times, counts).
- `grouped_bars`: a few counts per scenario (lost / recovered / processed twice, per queue).
- `timeline`: one row per worker (or per job) with a bar per execution, coloured by outcome.
- `side_by_side`: the chapter's diagram next to the commands a traced client recorded.

Axis labels, legends and headings are in the language in use (labqueue.lab.i18n); the labels that
come from data (bar names, metrics, scenarios, outcomes) are translated where drawn when the catalogue
has them (marked with `N_()` where defined), else drawn as they are.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from .i18n import N_, Number, _
from .live import render_png, show_figure, translated

OUTCOME_COLOURS = {"done": "tab:green", "failed": "tab:orange", "crashed": "tab:red"}
OUTCOME_LABELS = {"done": N_("done"), "failed": N_("failed"), "crashed": N_("crash")}


def show(fig: Any) -> None:
    """Display a Figure as a PNG in the notebook."""
    show_figure(fig)


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.16, top=0.86)
    return fig


def bars(values: Mapping[str, float], *, title: str = "", ylabel: str = "", fmt: str = "{:.0f}",
         size: tuple[float, float] = (6.0, 2.8), colours: Sequence[str] | None = None) -> Any:
    """A bar chart of `values`, each bar labelled with its value (`fmt`, numbers written the lab's language's way)."""
    fig = _figure(size)
    ax = fig.add_subplot()
    labels = list(values)
    heights = [float(values[k]) for k in labels]
    drawn = ax.bar(range(len(labels)), heights, color=list(colours) if colours else None)
    ax.set_xticks(range(len(labels)), [translated(str(k)) for k in labels])  # two labels may read the same
    ax.bar_label(drawn, labels=[fmt.format(Number(h)) for h in heights], fontsize=9)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.2)
    return fig


def grouped_bars(table: Mapping[str, Mapping[str, float]], *, title: str = "", ylabel: str | None = None,
                 size: tuple[float, float] = (7.0, 3.0)) -> Any:
    """Bars grouped by metric, one colour per scenario: `{"simple": {"lost": 3, ...}, ...}`."""
    fig = _figure(size)
    ax = fig.add_subplot()
    scenarios = list(table)
    metrics = list(next(iter(table.values())))
    width = 0.8 / max(len(scenarios), 1)
    for i, scenario in enumerate(scenarios):
        xs = [m + (i - (len(scenarios) - 1) / 2) * width for m in range(len(metrics))]
        drawn = ax.bar(xs, [table[scenario][k] for k in metrics], width, label=translated(str(scenario)))
        ax.bar_label(drawn, fontsize=9)
    ax.set_xticks(range(len(metrics)), [translated(str(m)) for m in metrics])
    ax.set_ylabel(_("jobs") if ylabel is None else ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.margins(y=0.2)
    return fig


def timeline(executions: Any, *, by: str = "worker", title: str = "", label_jobs: bool = True,
             size: tuple[float, float] = (8.0, 3.0)) -> Any:
    """A Gantt chart of an ExecutionLog frame: rows by `worker` (or `job`), bars coloured by outcome."""
    fig = _figure(size)
    ax = fig.add_subplot()
    rows = sorted(executions[by].unique(), key=str)
    index = {name: i for i, name in enumerate(rows)}
    for e in executions.itertuples():
        y = index[getattr(e, by)]
        colour = OUTCOME_COLOURS.get(e.outcome, "tab:grey")
        ax.barh(y, max(e.end - e.start, 0.002), left=e.start, height=0.6, color=colour,
                edgecolor="black", linewidth=0.4)
        if e.outcome == "crashed":
            ax.plot(e.end, y, marker="X", color="black", markersize=8)
        if label_jobs and by == "worker":
            ax.annotate(str(e.job).split("-")[-1].lstrip("0") or "0", (e.start, y), xytext=(1, -3),
                        textcoords="offset points", fontsize=7)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel(_("seconds"))
    ax.set_title(title)
    from matplotlib.patches import Patch

    present = [o for o in OUTCOME_COLOURS if o in set(executions["outcome"])]
    fig.subplots_adjust(right=0.86)
    ax.legend(handles=[Patch(color=OUTCOME_COLOURS[o], label=translated(OUTCOME_LABELS[o])) for o in present],
              fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def side_by_side(diagram: str, tracer: Any, operations: Sequence[str] | None = None,
                 width: int = 60) -> Any:
    """HTML: the chapter's diagram (left) next to the commands recorded per operation and the Lua they ran (right)."""
    from IPython.display import HTML

    ops = list(operations) if operations is not None else list(dict.fromkeys(c.operation for c in tracer.commands))
    lines = []
    error = _("(error)")
    for op in ops:
        lines.append(f"<b>{html.escape(op)}</b>")
        for c in tracer.of(op):
            flag = f" <i>{html.escape(error)}</i>" if c.error else ""
            lines.append(f"&nbsp;&nbsp;<code>{html.escape(c.pretty(width))}</code>{flag}")
    left = f"<pre style='font-size:11px;line-height:1.2;white-space:pre;text-align:left'>{html.escape(diagram.strip(chr(10)))}</pre>"
    right = "<div style='font-size:12px;line-height:1.6'>" + "<br>".join(lines) + "</div>"
    from . import lua

    heading, traced = _("the chapter's diagram"), _("what labqueue sends (traced)")
    ran = {op: used for op, used in tracer.scripts_by_operation().items() if op in ops}
    return HTML("<div style='display:flex;gap:2em;align-items:flex-start'>"
                f"<div style='flex:none'><b>{html.escape(heading)}</b>{left}</div>"
                f"<div><b>{html.escape(traced)}</b><br>{right}</div></div>{lua.html_for(ran)}")


__all__ = ["bars", "grouped_bars", "render_png", "show", "side_by_side", "timeline"]
