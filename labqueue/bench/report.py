"""The run's outputs: a terminal table with ratios to the raw baselines, the JSON file, the PNG chart.

The table's headings and the chart's words follow the lab's language (labqueue.lab.i18n: notebook 11
shows them); English by default, so the command's output and the README's table stay English.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..lab.i18n import N_, _, language, number, translate

COLUMNS = [  # (heading, metric, baseline metric for the ratio, format)
    (N_("enqueue 1-by-1 /s"), "enqueue_one", "enqueue_one", "{:,.0f}"),
    (N_("enqueue bulk /s"), "enqueue_bulk", "enqueue_bulk", "{:,.0f}"),
    (N_("process 1 thr /s"), "process_1", "process_blmove_lrem", "{:,.0f}"),
    (N_("process K thr /s"), "process_k", "process_blmove_lrem", "{:,.0f}"),
    (N_("bytes/job"), "bytes_per_job", "bytes_per_job", "{:,.0f}"),
]


def _number(text: str) -> str:
    """A formatted number as the lab's language writes it: 26,332.5 in English, 26 332,5 in French."""
    return number(text)


def _backend(description: str) -> str:
    from ..lab.session import shown_backend

    return shown_backend(description)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _("n/a")
    return _number(spec.format(value))


def _cell(row: dict[str, Any], base: dict[str, Any], metric: str, base_metric: str, spec: str) -> str:
    value = row.get(metric)
    if value is None:
        return ""
    ref = row.get(metric + "_raw") or base.get(base_metric)
    ratio = f" ({_number(f'{value / ref:.2f}')}x)" if ref else ""
    return _fmt(value, spec) + ratio


def table(result: dict[str, Any]) -> str:
    """The results as a Markdown table: every figure with its ratio to the raw redis-py baseline."""
    meta, base = result["meta"], result["baseline"]
    k = meta["threads"]
    head = [_("system"), *(translate(h).replace("K", str(k)) for h, *_rest in COLUMNS), _("lateness p50 / p99 ms"),
            _("re-delivery s")]
    rows = [head, ["---"] * len(head)]
    rows.append([_("raw redis-py: LPUSH / pipelined LPUSH by 500 / BLMOVE+LREM / RPOP"),
                 _fmt(base["enqueue_one"], "{:,.0f}"), _fmt(base["enqueue_bulk"], "{:,.0f}"),
                 _fmt(base["process_blmove_lrem"], "{:,.0f}") + " BLMOVE+LREM",
                 _fmt(base["process_rpop"], "{:,.0f}") + " RPOP", _fmt(base["bytes_per_job"], "{:,.0f}"), "", ""])
    for row in result["systems"]:
        name = row["system"]
        if "skipped" in row:
            rows.append([name, _("skipped: {reason}").format(reason=row["skipped"]), *[""] * (len(head) - 2)])
            continue
        if row.get("version"):
            name += f" {row['version']}"
        if row.get("n") and row["n"] != meta["n"]:
            name += " (N={n})".format(n=_number(f"{row['n']:,}"))
        cells = [_cell(row, base, m, b, f) for _heading, m, b, f in COLUMNS]
        if row["system"] == "BullMQ":
            cells[3] = cells[3] + " (conc. 10)" if cells[3] else cells[3]
        late = (_number(f"{row['lateness_p50_ms']:.1f} / {row['lateness_p99_ms']:.1f}")
                if "lateness_p99_ms" in row else "")
        redo = (_("{seconds} (lease {lease})").format(seconds=_number(f"{row['redelivery_s']:.2f}"),
                                                      lease=_number(f"{row['lease_s']:g}"))
                if "redelivery_s" in row else (_("lost") if "lost" in row.get("redelivery_kind", "") else ""))
        rows.append([name, *cells, late, redo])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def summary(result: dict[str, Any]) -> str:
    """Header, table, import times, targets: what the command prints (English unless the lab's language
    is set, as the table)."""
    meta = result["meta"]
    lines = [_("labqueue benchmark — {backend}; N={n} no-op jobs, payload {payload}, K={threads} threads, "
               "prefetch {prefetch}, lease {lease} s, {cpus} CPUs, Python {python}, {started}, run took {seconds} s"
               ).format(backend=meta["backend"], n=f"{meta['n']:,}", payload='{"i": n}', threads=meta["threads"],
                        prefetch=meta["prefetch"], lease=f"{meta['lease_s']:g}", cpus=meta["cpus"],
                        python=meta["python"], started=meta["started"], seconds=f"{meta['duration_s']:.0f}"), "",
             _("Ratios in parentheses: to the raw redis-py baseline of the same column (processing: to the "
               "BLMOVE+LREM loop; enqueue 1-by-1: to raw LPUSH timed in alternating blocks of 500)."), "",
             table(result), ""]
    imp = result["import_ms"]
    if imp["labqueue"] is not None:
        lines.append(_("import time (median of 5 fresh interpreters): `import labqueue` {labqueue} ms (lazy, PEP 562: "
                       "no queue module, no redis-py); `from labqueue import ReliableQueue, connect` {queue} ms, "
                       "what a queue user pays, of which `import redis` alone {redis} ms").format(
            labqueue=f"{imp['labqueue']:.0f}", queue=f"{imp['labqueue_queue']:.0f}", redis=f"{imp['redis']:.0f}"))
    for row in result["systems"]:
        if "lateness_kind" in row:
            lines.append(_("{system}: lateness measured on {kind}").format(system=row["system"],
                                                                           kind=row["lateness_kind"]))
        if "redelivery_kind" in row:
            lines.append(_("{system}: redelivery measured on {kind}").format(system=row["system"],
                                                                             kind=row["redelivery_kind"]))
        if "lease_left_at_kill_s" in row:
            lines.append(_("{system}: lease left at the kill {left} s (the heartbeat extends it every lease/3), "
                           "re-delivered {after} s after it expired").format(
                system=row["system"], left=_number(f"{row['lease_left_at_kill_s']:.2f}"),
                after=_number(f"{row['redelivery_s'] - row['lease_left_at_kill_s']:.3f}")))
    lines += ["", _("Targets of issues 6 and 14:")]
    states = {True: _("MET"), False: _("MISSED"), None: _("n/a")}
    width = max(len(text) for text in states.values())
    for t in result["targets"]:
        state = states[t["met"]].ljust(width)
        value = _("n/a") if t["value"] is None else _number(f"{t['value']:.2f}") + t["unit"]
        op = "<" if t["unit"] in ("ms", "B", "s") else ">="
        note = f"; {t['note']}" if t.get("note") else ""
        goal = _("goal {op} {goal}").format(op=op, goal=_number(f"{t['goal']:g}") + t["unit"])
        lines.append(f"  {state} {t['target']}: {value} ({goal}){note}")
    return "\n".join(lines)


README_BEGIN = "<!-- bench:begin (python -m labqueue.bench --compare ... --readme README.md rewrites this block) -->"
README_END = "<!-- bench:end -->"


def readme_block(result: dict[str, Any], json_path: str = "labqueue/bench/reference_run.json",
                 chart_path: str | None = "labqueue/bench/reference_run.png") -> str:
    """The README's benchmark block (always English): what was run, the table, the targets, the chart."""
    import re

    meta = result["meta"]
    version = re.search(r"Redis ([0-9.]+)", meta["backend"])
    server = f"Redis {version.group(1)}" if version else meta["backend"]
    lines = [f"One run on this {meta['cpus']}-core machine ({server}, N = {meta['n']:,} no-op jobs, payload "
             f"`{{\"i\": n}}`, {meta['threads']} threads, prefetch {meta['prefetch']}, lease {meta['lease_s']:g} s, "
             f"Python {meta['python']}, {meta['started']}; the whole output is `{json_path}`). Ratios: to the raw "
             "redis-py loop of the same column, in the same run (processing: to the BLMOVE+LREM loop; enqueue "
             "1-by-1: to raw LPUSH timed in alternating blocks of 500).", "", table(result), "",
             "Targets (issues 6 and 14), as the command prints them:", ""]
    from .run import targets  # judged again by this checkout's targets (a JSON from an older run lacks new ones)

    states = {True: "MET", False: "MISSED", None: "n/a"}
    for t in targets(result):
        value = "n/a" if t["value"] is None else f"{t['value']:.2f}{t['unit']}"
        op = "<" if t["unit"] in ("ms", "B", "s") else ">="
        lines.append(f"- **{states[t['met']]}** {t['target']}: {value} (goal {op} {t['goal']:g}{t['unit']})")
    if chart_path:
        lines += ["", f"![labqueue against raw redis-py, RQ and BullMQ]({chart_path})"]
    return "\n".join(lines)


def write_readme(result: dict[str, Any], path: str | Path, json_path: str | None = None,
                 chart_path: str | None = None) -> None:
    """Replace the README's block between README_BEGIN and README_END with this run's `readme_block`."""
    if language() != "en":
        raise ValueError("the README's table is English: run without LABQUEUE_LANG (or with LABQUEUE_LANG=en)")
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no benchmark block: put {README_BEGIN!r} and {README_END!r} around it")
    block = readme_block(result, json_path or "labqueue/bench/reference_run.json", chart_path)
    file.write_text(text[:start + len(README_BEGIN)] + "\n" + block + "\n" + text[end:], encoding="utf-8")


def write_json(result: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(result, indent=2, default=lambda v: None) + "\n")


def chart(result: dict[str, Any], path: str | Path | None = None) -> Any:
    """Bar charts of enqueue and processing rates per system; saved as PNG when `path` is given."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    base = result["baseline"]
    k = result["meta"]["threads"]
    rows = [r for r in result["systems"] if "skipped" not in r]
    enq = [(_("raw LPUSH"), base["enqueue_one"], base["enqueue_bulk"])]
    enq += [(r["system"].replace("labqueue ", ""), r["enqueue_one"], r["enqueue_bulk"]) for r in rows]
    proc = [(_("raw BLMOVE+LREM"), base["process_blmove_lrem"], None), (_("raw RPOP"), base["process_rpop"], None)]
    proc += [(r["system"].replace("labqueue ", ""), r.get("process_1"), r.get("process_k")) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * max(len(enq), len(proc)) + 2.0))
    for ax, data, labels, title in (
            (axes[0], enq, (_("one by one"), _("bulk (500 a call)")), _("enqueue, jobs/s")),
            (axes[1], proc, (_("1 thread"), _("{k} threads (BullMQ: concurrency 10)").format(k=k)),
             _("process end to end, jobs/s"))):
        names = [d[0] for d in data][::-1]
        ys = range(len(names))
        for j, (label, color) in enumerate(zip(labels, ("#4c72b0", "#dd8452"))):
            values = [(d[1 + j] or 0) for d in data][::-1]
            ax.barh([y + (0.2 if j == 0 else -0.2) for y in ys], values, height=0.4, label=label, color=color)
        ax.set_yticks(list(ys), names)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 1k 2k 5k 10k ...
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize=8, frameon=False)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(_("labqueue vs raw redis-py — {backend}, N={n}").format(
        backend=_backend(result["meta"]["backend"]), n=_number(f"{result['meta']['n']:,}")), fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
