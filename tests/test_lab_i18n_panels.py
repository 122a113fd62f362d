"""What the lab's panels, charts, tallies, dashboard, traces and diagrams show, in French and in English.

With use_language("fr") the words a student reads are French (widget descriptions, matplotlib titles,
axes and legends, returned text); the names code reads (DataFrame columns, dict keys, action names)
stay English; English stays the default.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest

pytest.importorskip("ipywidgets")

import labqueue as lq  # noqa: E402
from labqueue.jobqueue import JobQueue  # noqa: E402
from labqueue.lab.crashing import CrashingWorker  # noqa: E402
from labqueue.lab import chapter, diagrams, i18n, lua, plots  # noqa: E402
from labqueue.lab.dashboard import Dashboard  # noqa: E402
from labqueue.lab.driven import beside  # noqa: E402
from labqueue.lab.experiments import Experiment, ExecutionLog, Tally, queue_probes, tally  # noqa: E402
from labqueue.lab.live import Sampler  # noqa: E402
from labqueue.lab.monitoring import MonitorChart  # noqa: E402
from labqueue.lab.panel import ControlPanel, progress_bar  # noqa: E402
from labqueue.lab.trace import Tracer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch):
    """No choice made and no $LABQUEUE_LANG: the default language."""
    before = i18n._chosen
    monkeypatch.delenv(i18n.ENV_LANG, raising=False)
    i18n._chosen = None
    yield
    i18n._chosen = before


@pytest.fixture
def french(english):
    i18n.use_language("fr")
    yield
    i18n.use_language("en")


@pytest.fixture
def r() -> Any:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


def legend(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def sampler_figure() -> tuple[Sampler, Any]:
    s = Sampler({"waiting": lambda: 1.0, "done": lambda: 2.0}, rates={"throughput": "done"}, live=False)
    samples = [{"t": 0.0, "waiting": 3.0, "done": 0.0}, {"t": 0.5, "waiting": 1.0, "done": 4.0},
               {"t": 1.0, "waiting": 0.0, "done": 9.0}]
    s.mark("crash")
    return s, s.figure(samples)


# -- the default ----------------------------------------------------------------------------------
def test_english_is_the_default(english) -> None:
    assert i18n.language() == "en"
    panel = ControlPanel()
    assert panel.crash_probability.description == "crash probability"
    assert panel.start_button.description == "start" and panel.status.value == "ready"
    assert "<b>experiment</b>" in panel.box.children[0].value
    _s, fig = sampler_figure()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seconds" and ax.get_ylabel() == "jobs" and fig.axes[1].get_ylabel() == "jobs / s"
    assert legend(ax) == ["waiting", "throughput"]
    assert diagrams.IMAGE_UPLOAD.startswith("\nScenario: Image upload and processing")
    assert "lines 537-541, 552-555" in chapter.show_chapter("ack_bug").data
    assert chapter.Pitfall("k", "t", "s", "01", (chapter.Excerpt(805, 805, "x"),), "w").lines() == "line 805"
    assert str(Tally(3, 2, 0, 1, 0, 0, 1, 0).as_dict()) == str(
        {"submitted": 3, "processed": 2, "processed_twice": 0, "lost": 1, "pending": 0, "dead": 0, "crashed": 1,
         "recovered": 0})


# -- the control panel ----------------------------------------------------------------------------
def test_control_panel_in_french(french) -> None:
    panel = ControlPanel(workers=2, rate=30, jobs=20)
    assert panel.workers.description == "workers"
    assert panel.rate.description == "arrivées / s"
    assert panel.crash_probability.description == "probabilité de crash"
    assert panel.jobs.description == "jobs"
    assert (panel.start_button.description, panel.stop_button.description) == ("démarrer", "arrêter")
    assert panel.crash_button.description == "faire crasher un worker"
    assert panel.progress.description == "terminé" and panel.status.value == "prêt"
    assert "<b>expérience</b>" in panel.box.children[0].value
    assert progress_bar(5).description == "progression"
    assert panel.values() == {"workers": 2, "rate": 30.0, "crash_probability": 0.0, "jobs": 20}  # English keys
    panel.show_progress({"enqueued": 9, "completed": 7, "crashes": 1, "workers": 2}, 20, i18n._("running"))
    assert panel.progress.value == 7 and panel.status.value == "en cours"
    assert "mis en file\u00a0: <b>9</b>" in panel.counters.value and "terminés\u00a0: <b>7</b>" in panel.counters.value
    assert "crashs\u00a0: <b>1</b>" in panel.counters.value


@pytest.mark.parametrize("lang, ordered, running", [("en", "crash ordered for w1", "running"),
                                                    ("fr", "crash demandé pour w1", "en cours")])
def test_a_crash_order_stays_shown_while_running_in_both_languages(english, lang, ordered, running) -> None:
    i18n.use_language(lang)
    try:
        panel = ControlPanel()

        class Running:
            running = True

            def crash_now(self) -> str:
                return "w1"

        panel.experiment = Running()
        panel.crash_now()
        assert panel.status.value == ordered
        panel.show_progress({"completed": 1}, 5, i18n._("running"))
        assert panel.status.value == ordered                  # "running" does not hide the crash order
        panel.show_progress({"completed": 5}, 5, "the end")
        panel.show_progress({"completed": 5}, 5, i18n._("running"))
        assert panel.status.value == running
    finally:
        i18n.use_language("en")


def test_an_experiment_reports_its_end_in_french(french, r) -> None:
    q = lq.ReliableQueue(r, "fr-panel", lease_seconds=1)
    panel = ControlPanel(workers=2, rate=400, jobs=6)
    panel.launch(lambda v: Experiment(q, jobs=v["jobs"], rate=v["rate"], workers=v["workers"], work_seconds=0.001,
                                      sampler=True), display=False)
    result = panel.wait()
    assert re.fullmatch(r"terminée en \d+,\d s", panel.status.value), panel.status.value   # French: 1,5 s
    assert result.tally.processed == 6
    ax = panel.experiment.sampler.figure().axes[0]
    assert ax.get_title() == "file 'fr-panel'"
    assert legend(ax) == ["en attente", "en traitement", "lettres mortes", "arrivées", "débit"]
    assert {"waiting", "processing", "dead", "done", "enqueued", "arrivals", "throughput"} <= set(result.samples.columns)


# -- live charts, plots -----------------------------------------------------------------------------
def test_sampler_chart_in_french_keeps_english_columns(french) -> None:
    s, fig = sampler_figure()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "secondes" and ax.get_ylabel() == "jobs" and fig.axes[1].get_ylabel() == "jobs / s"
    assert legend(ax) == ["en attente", "débit"]
    assert "crash" in [t.get_text() for t in ax.texts]
    assert list(s.frame([{"t": 0.0, "waiting": 1.0, "done": 0.0}]).columns) == ["waiting", "done", "throughput"]


def test_queue_probes_keep_their_english_names(french, r) -> None:
    assert set(queue_probes(lq.ReliableQueue(r, "probes"))) == {"waiting", "processing", "dead"}


def test_plots_in_french(french, r) -> None:
    q = lq.SimpleQueue(r, "fr-plots")
    ids = [q.enqueue({"type": "work"}, job_id=f"job-{i}") for i in range(3)]
    log = ExecutionLog(work_seconds=0.001)
    worker = CrashingWorker(q, {"work": log.handler}, name="w1", poll_seconds=0.1, burst=True, on_event=log.on_event)
    worker.crash()
    worker.run()
    lq.Worker(q, {"work": log.handler}, name="w2", poll_seconds=0.1, burst=True, on_event=log.on_event).run()
    ax = plots.timeline(log.frame(), title="qui a fait quoi").axes[0]
    assert ax.get_xlabel() == "secondes" and ax.get_title() == "qui a fait quoi"
    assert legend(ax) == ["terminé", "crash"]
    counts = tally(q, ids, log)
    ax = plots.grouped_bars({"simple": {"lost": counts.lost, "processed twice": 0, "crashes": 1}}).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["perdus", "traités deux fois", "crashs"]
    assert ax.get_ylabel() == "jobs"
    ax = plots.bars({"lost": 1, "ma barre": 2}, ylabel="ms").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["perdus", "ma barre"]   # unknown labels kept


def test_a_tally_prints_french_names_and_keeps_english_keys(french) -> None:
    counts = Tally(submitted=5, processed=4, processed_twice=1, lost=1, pending=0, dead=0, crashed=2,
                   recovered=1).as_dict()
    assert counts["lost"] == 1 and counts == {"submitted": 5, "processed": 4, "processed_twice": 1, "lost": 1,
                                              "pending": 0, "dead": 0, "crashed": 2, "recovered": 1}
    shown = str(counts)
    assert shown == repr(counts) == f"{counts}"
    for words in ("'soumis': 5", "'traités': 4", "'traités deux fois': 1", "'perdus': 1", "'en suspens': 0",
                  "'lettres mortes': 0", "'livraisons interrompues par un crash': 2", "'récupérés': 1"):
        assert words in shown, shown


# -- dashboard, monitoring -------------------------------------------------------------------------
def test_dashboard_in_french(french, r) -> None:
    q = JobQueue(r, "fr-dash")
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    for job_id, _k, token, _d in q.claim(100)[0]:
        q.finish(job_id, token, "failed", "boom")
    d = Dashboard(q)
    assert [b.description for b in d.buttons.values()] == ["pause", "reprendre", "relancer les échecs", "nettoyer"]
    assert d.grace.description == "nettoyer au-delà de (s)" and d.status.value == "prêt"
    assert "file <code>fr-dash</code>" in d.box.children[0].value
    assert "derniers jobs en échec" in d.box.children[6].value
    d.refresh()
    assert "en attente" in d.count_labels["waiting"].value and "échoués" in d.count_labels["failed"].value
    assert "<th>tentatives</th>" in d.failed_table.value and "<th>erreur</th>" in d.failed_table.value
    assert d.act("pause").startswith("file en pause")
    assert d.act("resume") == "la file reprend"
    assert d.act("retry failed") == "3 jobs en échec remis en attente"      # ngettext: French plural
    assert d.act("retry failed") == "0 job en échec remis en attente"       # French: 0 is singular
    q.add("j", {})
    d.refresh()
    time.sleep(0.01)
    d.refresh()
    ax = d.figure().axes[0]
    assert ax.get_xlabel() == "secondes" and ax.get_ylabel() == "jobs / s"
    assert legend(ax) == ["terminés / s", "échoués / s", "latence (ms)"]
    d.samples = [(0.0, 0, 0, 0.0), (1.0, 4, 1, 40.0)]
    assert "débit <b>4,0</b> jobs/s · échecs <b>1,0</b>/s · latence <b>10,0 ms</b>" == d._rates_text()


def test_monitoring_chart_in_french(french, r) -> None:
    chart = MonitorChart(r, "fr-monitor", live=False)
    chart.rows = [{"t": 0.0, "succeeded": 0, "failed": 0, "duration_ms": 0.0, "waiting": 3},
                  {"t": 1.0, "succeeded": 4, "failed": 1, "duration_ms": 40.0, "waiting": 1}]
    axes = chart.figure().axes
    assert legend(axes[0]) == ["terminés / s", "tentatives échouées / s"]
    assert [ax.get_ylabel() for ax in axes] == ["débit", "latence (ms)", "% de succès"]
    assert axes[2].get_xlabel() == "secondes"
    assert list(chart.frame().columns) == ["completed_per_s", "failed_per_s", "latency_ms", "success_pct", "waiting"]


# -- traces, Lua, diagrams, the chapter ----------------------------------------------------------------
def traced(r: Any) -> Tracer:
    t = Tracer(r)
    q = lq.ReliableQueue(t.client, "fr-trace", lease_seconds=5)
    with t.record("enqueue"):
        q.enqueue({"type": "x"}, job_id="j1")
    with t.record("dequeue"):
        job = q.dequeue(timeout=1)
    with t.record("ack"):
        q.ack(job)
    return t


def test_traced_table_side_by_side_beside_and_lua_in_french(french, r) -> None:
    t = traced(r)
    table = t.table()
    assert list(table.columns) == ["opération", "commande", "dans un pipeline", "erreur"]
    side = plots.side_by_side(diagrams.RELIABLE_QUEUE, t).data
    assert "le schéma du chapitre" in side and "ce qu&#x27;envoie labqueue (tracé)" in side
    assert "le Lua exécuté" in side and "exécuté par : ack" in side
    shown = beside(diagrams.LOST_JOB, table).data
    assert "le chapitre" in shown and "ce qu&#x27;envoie labqueue" in shown and "opération" in shown
    assert "PROBLÈME : Job perdu si le worker crash" in shown
    assert "aucun script Lua exécuté" in lua.show([]).data


def test_traced_table_stays_english_by_default(english, r) -> None:
    t = traced(r)
    assert list(t.table().columns) == ["operation", "command", "in pipeline", "error"]
    assert "the chapter&#x27;s diagram" in plots.side_by_side(diagrams.RELIABLE_QUEUE, t).data


def test_diagrams_follow_the_language(english) -> None:
    assert "Scenario: Black Friday" in diagrams.PEAK_SHAVING
    i18n.use_language("fr")
    try:
        assert diagrams.PEAK_SHAVING.startswith("\nScénario : Black Friday - 10,000 orders/minute\n\nSans queue:")
        from labqueue.lab.diagrams import RETRY

        assert "Scénario : Email sending avec failures" in RETRY
        assert diagrams.diagram("PEAK_SHAVING", "en") == diagrams.ENGLISH["PEAK_SHAVING"]
    finally:
        i18n.use_language("en")
    with pytest.raises(AttributeError):
        diagrams.NOPE  # noqa: B018
    with pytest.raises(ValueError, match="no diagram named 'NOPE'"):
        diagrams.diagram("NOPE")


def chapter_text() -> str | None:
    candidates = [os.environ.get("LABQUEUE_CHAPTER", "")]
    candidates += [str(p / "shared" / "seed" / chapter.CHAPTER) for p in ROOT.parents]
    path = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    return path.read_text(encoding="utf-8") if path else None


def test_french_diagrams_are_the_chapters_own() -> None:
    """Every French diagram is, character for character, one of the chapter's ```text blocks."""
    text = chapter_text()
    if text is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{chapter.CHAPTER} not found: set LABQUEUE_CHAPTER")
        pytest.skip(f"{chapter.CHAPTER} not found (set LABQUEUE_CHAPTER)")
    blocks = re.findall(r"```text\n(.*?)```", text, re.S)
    for name in diagrams.NAMES:
        assert diagrams.diagram(name, "fr").lstrip("\n") in blocks, name


def test_show_chapter_in_french(french) -> None:
    p = chapter.PITFALLS["ack_bug"]
    shown = chapter.show_chapter("ack_bug").data
    assert "le code du chapitre lui-même : Un ack qui ne retire jamais le job" in shown
    assert "lignes 537-541, 552-555" in shown and "pourquoi ça casse :" in shown
    assert "chaque job acquitté reste pour toujours dans processing" in shown
    assert "Pattern 2: Reliable Queue (BRPOPLPUSH)" in shown                  # the chapter's section, as is
    assert "Ajouter metadata du worker" in shown                               # the chapter's code, as is
    assert p.why not in shown and p.title not in shown
    assert "lignes 805, 819-820" in chapter.show_chapter("priority_ties").data
    one = chapter.Pitfall("k", "t", "s", "01", (chapter.Excerpt(805, 805, "x"),), "w")
    assert one.lines() == "ligne 805"
