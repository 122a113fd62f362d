"""The lessons' helpers (notebooks 03-06, 09-12) and notebook 11's benchmark speak French after
use_language("fr"): chart titles and axes, live series, widget descriptions, table headings, tallies.
Code keeps reading the tables by their English labels, and English stays the default."""

from __future__ import annotations

import json
from datetime import datetime
from importlib.resources import files
from typing import Any

import fakeredis
import pandas as pd
import pytest

from labqueue import Backoff, DelayedQueue, Job, PriorityQueue, ReliableQueue
from labqueue.lab import i18n
from labqueue.lab.frames import labelled, shown

PARIS_SPRING = datetime(2026, 3, 28, 12).timestamp()


@pytest.fixture
def fr():
    """French for the test, then the language chosen before (English by default) again."""
    before = i18n._chosen
    i18n.use_language("fr")
    yield
    i18n._chosen = before


@pytest.fixture
def en(monkeypatch):
    """English: no use_language() call, no $LABQUEUE_LANG (the default)."""
    before = i18n._chosen
    i18n._chosen = None
    monkeypatch.delenv(i18n.ENV_LANG, raising=False)
    yield
    i18n._chosen = before


@pytest.fixture
def client():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


def _legend(sampler: Any) -> list[str]:
    """The series names a sampler's chart shows (its probes keep their English names for code)."""
    fig = sampler.figure([{"t": 0.0, **{name: 0.0 for name in sampler.probes}}])
    return [text.get_text() for text in fig.axes[0].get_legend().get_texts()]


def _reference_run() -> dict[str, Any]:
    return json.loads(files("labqueue.bench").joinpath("reference_run.json").read_text())


# -- the display-only labels -----------------------------------------------------------------------
def test_labelled_frames_show_translations_and_keep_english_labels_for_code(fr) -> None:
    df = pd.DataFrame({"lost": [1, 0]}, index=pd.Index(["a", "b"], name="queue"))
    table = labelled(df, columns={"lost": "perdus"}, names={"queue": "file"})
    assert list(table["lost"]) == [1, 0] and table.loc["a", "lost"] == 1          # code: English labels
    assert "perdus" in repr(table) and "perdus" in table._repr_html_() and "file" in repr(table)
    assert "lost" not in repr(table) and list(shown(table).columns) == ["perdus"]
    assert type(table[["lost"]]) is pd.DataFrame and type(table.T) is pd.DataFrame  # derived: plain again


def test_labelled_is_the_frame_itself_in_english(en) -> None:
    df = pd.DataFrame({"lost": [1]})
    assert labelled(df, columns={"lost": "perdus"}) is df and shown(df) is df


# -- notebook 06: retries --------------------------------------------------------------------------
def test_retries_charts_tables_and_live_series_in_french(fr, client) -> None:
    from labqueue.lab import retries as rt

    policies = {"exp": Backoff.exponential(0.5), "full": Backoff.exponential(0.5, jitter="full")}
    ax = rt.policies_figure(policies, attempts=3, samples=2).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("tentative échouée", "attente avant la suivante (s)")
    ax = rt.herd_figure({"a": [0.1, 0.2]}, bucket=0.1, capacity=5).axes[0]
    assert ax.get_ylabel() == "nouvelles tentatives par 0,1 s"
    assert "capacité du service en aval / 0,1 s" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert list(rt.delay_table(policies, 2).columns) == ["après l'échec 1", "après l'échec 2"]

    table = rt.bull_backoffs(2.0, attempts=3)
    assert list(table.loc["total wait"]) == [8.0, 6.0, 6.0]                        # the notebook's check
    assert "attente totale" in repr(table) and "après l'échec 1 (avant la tentative 2)" in repr(table)
    assert "total wait" not in table._repr_html_()

    q = ReliableQueue(client, "fr-mail")
    e = rt.EmailExperiment(q, rt.FlakyMailer(), ["a@example.com"], live=False)
    assert list(e.sampler.probes) == ["waiting", "retries (delayed)", "DLQ", "sent"]         # read by code
    assert _legend(e.sampler) == ["en attente", "nouvelles tentatives (différées)", "DLQ", "envoyés"]
    assert e.sampler.title.startswith("10 % de timeouts SMTP")
    assert set(e.progress()) == {"completed", "sent", "retrying", "dead"}          # the panel translates them
    assert [i18n._(k) for k in e.progress()] == ["terminés", "envoyés", "à retenter", "lettres mortes"]
    mailer = rt.FlakyMailer(failure_rate=1.0, bouncing={"b@example.com"})
    reasons = []
    for to in ("a@example.com", "b@example.com"):
        try:
            mailer.send(Job(id=to, type="send_email", data={"to": to}))
        except OSError as exc:
            reasons.append(str(exc))
    assert reasons == ["timeout SMTP", "550 boîte aux lettres indisponible : b@example.com"]
    dead = rt.dead_table(q)
    assert list(dead.columns) == ["id", "to", "reason", "attempts", "failed at (s)"]
    assert list(shown(dead).columns) == ["id", "destinataire", "raison", "tentatives", "moment de l'échec (s)"]


# -- notebooks 04 and 05: scheduling ---------------------------------------------------------------
def test_scheduling_tables_charts_and_counters_in_french(fr, client) -> None:
    from labqueue.lab import scheduling as sched

    spring = sched.occurrences("30 2 * * *", "Europe/Paris", PARIS_SPRING, 2)
    assert list(spring["local time"]) == ["2026-03-29 03:00", "2026-03-30 02:30"]  # the notebook reads it so
    assert list(shown(spring).columns) == ["heure locale", "jour", "décalage UTC", "UTC"]
    assert list(spring["weekday"]) == ["dim.", "lun."]
    ax = sched.planned_vs_actual_figure({"a": ([0.0, 1.0], [0.1, 1.2])}).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("démarrage prévu (s)", "démarrage réel (s)")
    assert "à l'heure" in [t.get_text() for t in ax.get_legend().get_texts()]
    timeline = sched.CronTimeline("Europe/Paris", title="simulé")
    ax = timeline.figure([sched.Fired("daily", PARIS_SPRING, PARIS_SPRING)]).axes[0]
    assert ax.get_ylabel() == "heure de la journée"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["heure locale (Europe/Paris)", "heure UTC"]

    e = sched.DelayExperiment(DelayedQueue(client, "fr-delay"), interval=1.0, jobs=2, live=False)
    assert _legend(e.sampler) == ["différés", "en attente", "démarrés", "passages du planificateur"]
    assert e.sampler.title == "regarde chaque seconde"
    assert list(e.lateness()) == ["retard médian (s)", "retard max (s)", "passages du planificateur"]


# -- notebook 03: priorities -----------------------------------------------------------------------
def test_priority_charts_and_live_series_in_french(fr, client) -> None:
    from labqueue.lab import priorities as pri

    q = PriorityQueue(client, "fr-order")
    for i, p in enumerate([5, 1, 5]):
        q.enqueue({"type": "work", "i": i}, priority=p)
    fig = pri.order_figure(pri.drain(q))
    ax = fig.axes[0]
    assert ax.get_title() == "ordre de ZPOPMIN : la priorité d'abord, puis l'arrivée"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("position à la sortie (dequeue)", "priorité (1 = haute)")
    assert fig.axes[1].get_ylabel() == "numéro d'arrivée"                                  # the colour bar
    assert pri.ties_figure({"a": [0, 1]}).axes[0].get_title() == "priorités égales : qui sort en premier ?"
    e = pri.StarvationExperiment(PriorityQueue(client, "fr-starve"), live=False)
    assert _legend(e.sampler) == ["HIGH en attente", "LOW en attente", "LOW servis"]
    assert e.sampler.title == "charge HIGH continue, puis plus rien"


# -- notebook 09: practices and operations ---------------------------------------------------------
def test_checklist_in_the_chapters_own_french(fr) -> None:
    from labqueue.lab import practices as pr

    table = pr.checklist()
    assert set(table["area"]) == {"Architecture", "Performance", "Fiabilité", "Monitoring"}
    assert "Utiliser Reliable Queue (BRPOPLPUSH) en production" in set(table["the chapter says"])
    assert list(shown(table).columns) == ["domaine", "le chapitre dit", "dans labqueue"]
    assert pr.CHECKLIST[0][0] == "Architecture" and pr.CHECKLIST[10][0] == "Reliability"  # the constant: English


def test_library_figures_shown_in_french_read_in_english(fr) -> None:
    from labqueue.lab import practices as pr

    figures, _meta = pr.library_figures()
    assert figures.loc[figures.index.str.startswith("BullMQ"), "process vs BullMQ"].item() == "1.00x"
    assert (figures["process, 1 worker /s"] > 0).all()
    assert shown(figures).index.name == "système"
    assert "traitement / BullMQ" in figures._repr_html_() and "octets Redis par job" in repr(figures)


def test_poison_race_series_in_french(fr, client) -> None:
    from labqueue.lab import practices as pr

    race = pr.PoisonRace(ReliableQueue(client, "fr-u"), ReliableQueue(client, "fr-l", max_attempts=3), live=False)
    assert "livraisons du job empoisonné, max 3" in _legend(race.sampler)
    assert race.sampler.title == "une facture empoisonnée, retentée sans fin ou 3 fois"
    with pytest.raises(ValueError, match="^impossible de lire la facture 'corrupt.pdf'$"):
        pr.always_fails(Job(id="p", type="invoice", data={"invoice": "corrupt.pdf"}))


def test_crash_table_shown_in_french_read_in_english(fr, client) -> None:
    from labqueue.lab import operations as ops

    table = ops.crash_each({"priority": PriorityQueue(client, "fr-crash-p"),
                            "reliable": ReliableQueue(client, "fr-crash-r", lease_seconds=0.2)}, jobs=2)
    assert list(table["lost"]) == [1, 0] and list(table["processed"] + table["lost"]) == [2, 2]
    assert list(shown(table).columns) == ["un worker prend un job avec", "jobs", "crash en plein job", "traités",
                                          "perdus", "encore dans Redis"]
    assert shown(table).index.name == "file"
    assert table.loc["priority", "a worker takes a job with"] == "BZPOPMIN (le job quitte Redis)"


def test_rate_limit_and_autoscale_titles_in_french(fr, client) -> None:
    from labqueue.jobqueue import JobQueue
    from labqueue.lab import operations as ops

    run = ops.RateLimitRun(JobQueue(client, "fr-rate", limiter={"max": 5, "duration": 0.1}), live=False)
    assert run.sampler.title == "limiteur : au plus 5 jobs par 0,1 s, threads de worker : 4"
    assert run.sampler.rates == {"deliveries / s": "started"}
    assert _legend(run.sampler) == ["en attente", "livraisons / s"]


# -- notebooks 10 and 12: chaos and scaling tallies ------------------------------------------------
def test_chaos_and_failover_tallies_in_french(fr) -> None:
    from labqueue.lab import chaos, scaling

    tally = chaos.Tally(jobs=10, processed=10, lost=0, duplicated=1, kills=2, dead=0, seconds=1.25)
    # French: 1,2 s, and "durée" so that the decimal comma is not read as one more comma of the list
    assert str(tally) == "jobs 10, traités 10, perdus 0, dupliqués 1, kills 2, lettres mortes 0, durée 1,2 s"
    assert tally.lost == 0                                                             # fields unchanged
    failover = scaling.Tally(jobs=6, processed=6, lost=0, duplicated=0, failovers=1, reconnects=2, seconds=3.0)
    assert "basculements 1" in str(failover) and str(failover).endswith("reconnexions des workers 2, durée 3,0 s")
    external = scaling.LabCluster("redis://127.0.0.1:1", None)
    with pytest.raises(RuntimeError, match="^cette expérience demande le cluster local de ce notebook$"):
        scaling.ack_loss(external, "fr-loss", 1, durable=False)
    server = chaos.Server("redis://127.0.0.1:1/0", "TcpFakeServer")
    assert server.describe().endswith("(lent : environ 90 jobs/s)")


# -- notebook 11: the benchmark's panel, table and chart ------------------------------------------
def test_benchmark_panel_table_and_chart_in_french(fr) -> None:
    import matplotlib.pyplot as plt

    from labqueue.bench.report import chart, summary, table
    from labqueue.bench.widgets import BenchPanel

    panel = BenchPanel()
    assert [panel.n.description, panel.threads.description, panel.bar.description] == \
        ["N jobs", "threads", "benchmark"]
    assert panel.status.value == "pas encore lancé"
    result = _reference_run()
    head = table(result).splitlines()[0]
    assert head.startswith("| système | enqueue un par un /s |") and "retard p50 / p99 ms" in head
    assert "| labqueue reliable prefetch 1 |" in table(result)                      # system names unchanged
    assert "Objectifs des issues 6 et 14 :" in summary(result) and "  ATTEINT " in summary(result)
    fig = chart(result)
    try:
        assert [ax.get_title() for ax in fig.axes] == ["enqueue, jobs/s", "traitement de bout en bout, jobs/s"]
        assert fig._suptitle.get_text().startswith("labqueue face à redis-py brut — ")
    finally:
        plt.close(fig)


# -- English stays the default ---------------------------------------------------------------------
def test_english_is_the_default(en, client) -> None:
    import matplotlib.pyplot as plt

    from labqueue.bench.report import chart, table
    from labqueue.bench.widgets import BenchPanel
    from labqueue.lab import chaos, practices, priorities, retries, scheduling

    assert retries.policies_figure({"exp": Backoff.exponential(0.5)}, 2).axes[0].get_xlabel() == "failed attempt"
    assert type(retries.bull_backoffs(2.0, 3)) is pd.DataFrame
    spring = scheduling.occurrences("30 2 * * *", "Europe/Paris", PARIS_SPRING, 1)
    assert type(spring) is pd.DataFrame and list(spring["weekday"]) == ["Sun"]
    assert priorities.ties_figure({"a": [0]}).axes[0].get_title() == "equal priorities: who comes out first?"
    assert set(practices.checklist()["area"]) == {"Architecture", "Performance", "Reliability", "Monitoring"}
    assert str(chaos.Tally(1, 1, 0, 0, 0, 0, 0.5)).startswith("jobs 1, processed 1, lost 0")
    assert BenchPanel().status.value == "not started"
    assert table(_reference_run()).startswith("| system | enqueue 1-by-1 /s |")
    fig = chart(_reference_run())
    try:
        assert fig.axes[1].get_title() == "process end to end, jobs/s"
    finally:
        plt.close(fig)
