"""What a French student reads in the outputs of notebooks 06-12 (issue 16, review): the backend line, the
lab's comment in the chapter's nack, the benchmark table's numbers (26 332, 0,68x: a French reader takes
26,332 for twenty-six point three), the panel's tallies (« terminés : 7 »). English stays as it was."""

from __future__ import annotations

import json
from importlib.resources import files

import fakeredis
import pytest

from labqueue.connection import describe
from labqueue.lab import i18n
from labqueue.lab.session import shown_backend

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.fixture
def fr():
    before = i18n._chosen
    i18n.use_language("fr")
    yield
    i18n._chosen = before


@pytest.fixture
def en(monkeypatch):
    before = i18n._chosen
    i18n._chosen = None
    monkeypatch.delenv(i18n.ENV_LANG, raising=False)
    yield
    i18n._chosen = before


LINES = ["embedded fakeredis 2.41.0 (in-process, no server)", "embedded fakeredis (in-process, no server)",
         "real Redis 7.0.15 at 127.0.0.1:6379 db 0",
         "Redis Cluster 7.0.15, 3 masters + 3 replicas, state ok, via 127.0.0.1:30001",
         "real Redis at 127.0.0.1:6379 db 0 (unreachable: ConnectionError)"]


def test_backend_descriptions_in_french(fr) -> None:
    assert [shown_backend(line) for line in LINES] == [
        "fakeredis 2.41.0 embarqué (dans ce processus, sans serveur)",
        "fakeredis embarqué (dans ce processus, sans serveur)",
        "serveur Redis 7.0.15 sur 127.0.0.1:6379, db 0",
        "Redis Cluster 7.0.15, 3 masters + 3 réplicas, état ok, via 127.0.0.1:30001",
        LINES[4]]                                                          # a line it does not know: as it is
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    assert shown_backend(describe(fake)).startswith("fakeredis ") and "embarqué" in shown_backend(describe(fake))


def test_backend_descriptions_unchanged_in_english(en) -> None:
    assert [shown_backend(line) for line in LINES] == LINES
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    assert shown_backend(describe(fake)) == describe(fake)


def test_chapter_nack_comment_follows_the_language(fr) -> None:
    from labqueue.lab import retries

    assert "# le nack du chapitre (sans backoff : le job revient aussitôt)\njob_json_old" in retries.CHAPTER_NACK
    assert retries.CHAPTER_NACK.startswith("Scénario : Email sending avec failures")   # the chapter's own words
    i18n.use_language("en")
    assert "# the chapter's nack (no backoff: the job is back at once)\njob_json_old" in retries.CHAPTER_NACK


def _reference_run() -> dict:
    return json.loads(files("labqueue.bench").joinpath("reference_run.json").read_text())


def test_benchmark_numbers_written_the_french_way(fr) -> None:
    from labqueue.bench.report import table

    text = table(_reference_run())
    assert f"x)" in text and "," in text
    row = next(line for line in text.splitlines() if line.startswith("| labqueue reliable prefetch 50"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert NNBSP in cells[1] and "." not in cells[1] and "," in cells[1]   # « 3 694 (0,94x) »: thousands, decimals


def test_benchmark_numbers_unchanged_in_english(en) -> None:
    from labqueue.bench.report import table

    text = table(_reference_run())
    assert NNBSP not in text
    row = next(line for line in text.splitlines() if line.startswith("| labqueue reliable prefetch 50"))
    assert "." in row.split("|")[2]


def test_panel_tallies_french_typography(fr) -> None:
    from labqueue.lab.panel import ControlPanel

    panel = ControlPanel(workers=1, rate=10, jobs=5)
    panel.show_progress({"completed": 7}, 10, "x")
    assert panel.counters.value == f"terminés{NBSP}: <b>7</b>"
    i18n.use_language("en")
    panel.show_progress({"completed": 7}, 10, "x")
    assert panel.counters.value == "completed: <b>7</b>"


def test_a_table_a_cell_builds_shows_french_headers_and_keeps_english_ones_for_code(fr):
    """frames.translated(): 09's payload comparison, 12's slot table and 07's describe() rows are shown in
    French while the notebook's code (the same in both languages) reads them by their English labels."""
    import pandas as pd

    from labqueue.lab.frames import translated
    from labqueue.lab.practices import round_trip  # noqa: F401 - its keys are the catalogue's sentences

    comparison = pd.DataFrame({"a reference (URL)": {"bytes in Redis per job": 120, "enqueue + dequeue (ms)": 0.4}}).T
    shown = translated(comparison)
    assert "octets dans Redis par job" in repr(shown) and "bytes in Redis" not in repr(shown)
    assert shown.loc["a reference (URL)", "bytes in Redis per job"] == 120
    slots = translated(pd.DataFrame([{"queue": "q", "key": "k", "slot": 7, "master": "m1"}]))
    assert "clé" in slots._repr_html_() and sorted(set(slots.master)) == ["m1"]
    rows = translated(pd.DataFrame({"x": [1.0, 3.0]}).describe().loc[["mean", "max"]])
    assert "moyenne" in repr(rows) and rows.loc["mean", "x"] == 2.0
    i18n.use_language("en")
    assert translated(comparison) is comparison


def test_lab_outputs_write_decimals_with_a_comma_in_french(fr) -> None:
    """French writes 0,50 s: notebook 06's delay table and a check's verdict (English unchanged)."""
    import labqueue as lq
    from labqueue.lab.checks import CheckFailed, retries as retry_checks
    from labqueue.lab.retries import delay_table

    policies = {"fixed 1 s": lq.Backoff.fixed(1.0), "full": lq.Backoff.exponential(0.5, jitter="full")}
    table = delay_table(policies, attempts=2)
    assert list(table.loc["fixed 1 s"]) == ["1,00", "1,00"] and list(table.loc["full"]) == ["0,00–0,50", "0,00–1,00"]
    with pytest.raises(CheckFailed, match=r"base 0,5 s, plafond 30,0 s\) attend toujours 0,5 s"):
        retry_checks.my_backoff(None, {"my_backoff": lambda attempt, base, cap: base})
    i18n.use_language("en")
    assert list(delay_table(policies, attempts=1).loc["full"]) == ["0.00–0.50"]


def _drawn_texts(fig) -> list[str]:
    """Every text a rendered figure shows: tick labels, bar labels, legends, titles, axis labels."""
    from matplotlib.text import Text

    from labqueue.lab.live import render_png

    render_png(fig)                                     # tick labels are only formatted when drawn
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def test_charts_write_decimals_with_a_comma_in_french(fr) -> None:
    """French charts write 12,3 ms and 0,5 s: bar labels (00's upload times), the herd chart's capacity line
    and axis (06), and the tick labels of every chart rendered by the lab (seconds axes, latencies)."""
    import re

    from labqueue.lab import plots, retries as rt
    from labqueue.lab.live import Sampler

    dotted = re.compile(r"\d\.\d")
    upload = plots.bars({"direct": 812.34, "queued": 12.3}, ylabel="ms", fmt="{:.1f} ms")
    herd = rt.herd_figure({"none": [0.05, 0.12, 0.31], "full": [0.2, 0.7]}, bucket=0.1, capacity=5)
    sampler = Sampler({"waiting": lambda: 0.0}, live=False)
    line = sampler.figure([{"t": 0.0, "waiting": 0.5}, {"t": 1.5, "waiting": 2.5}])
    french = {name: _drawn_texts(fig) for name, fig in (("bars", upload), ("herd", herd), ("sampler", line))}
    assert "12,3 ms" in french["bars"] and any("0,1 s" in t for t in french["herd"])
    assert any("," in t for t in french["sampler"])                 # 0,5 on the time axis
    assert not {name: [t for t in texts if dotted.search(t)] for name, texts in french.items()
                if any(dotted.search(t) for t in texts)}
    i18n.use_language("en")
    assert "12.3 ms" in _drawn_texts(plots.bars({"queued": 12.3}, fmt="{:.1f} ms"))
    assert any(dotted.search(t) for t in _drawn_texts(sampler.figure([{"t": 0.0, "waiting": 0.5},
                                                                      {"t": 1.5, "waiting": 2.5}])))
