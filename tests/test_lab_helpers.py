"""Tests of the notebook helpers in labqueue.lab (traced client, workload drivers, tally, pitfalls,
sampler, control panel), on both backends where Redis is involved."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest

import labqueue as lq
from labqueue.lab.crashing import CrashingWorker
from labqueue.lab.experiments import (Experiment, ExecutionLog, Producer, WorkerPool, ids_in_redis,
                                      queue_probes, tally)
from labqueue.lab.live import Sampler, render_png
from labqueue.lab.panel import ControlPanel, progress_bar
from labqueue.lab.pitfalls import ChapterReliableQueue
from labqueue.lab.trace import Tracer, script_names

# The chapter's reliable queue names its keys without a hash tag (q, q:processing): on a cluster its
# first RPOPLPUSH fails with CROSSSLOT before the bug these tests show (tests/test_cluster.py checks that
# CROSSSLOT), so they run on the two single-node backends only, not as skipped cluster cases.
SINGLE_NODE = pytest.mark.parametrize("backend", ["fake", "real"])


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


# -- trace ---------------------------------------------------------------------------------------
def test_script_names_cover_every_lua_file() -> None:
    """Every labqueue Lua script has a digest -> name entry."""
    names = set(script_names().values())
    assert {"lease.lua", "claim.lua", "nack.lua", "recover.lua", "replay.lua"} <= names


def test_tracer_records_simple_queue_commands(r: Any) -> None:
    """A simple queue's enqueue sends LPUSH and its blocking dequeue BRPOP."""
    t = Tracer(r)
    q = lq.SimpleQueue(t.client, "trace-simple")
    with t.record("enqueue") as sent:
        q.enqueue({"type": "send_email", "to": "a@example.com"})
    with t.record("dequeue"):
        job = q.dequeue(timeout=0.5)
    assert job is not None and job.data["to"] == "a@example.com"
    assert [c.name for c in sent] == ["LPUSH"]
    assert sent[0].args[0] == "lq:{trace-simple}:waiting"
    assert t.names("dequeue") == ["BRPOP"]
    assert t.summary() == {"enqueue": "LPUSH", "dequeue": "BRPOP"}


def test_tracer_names_reliable_queue_scripts(r: Any) -> None:
    """A reliable dequeue is an atomic move plus EVALSHA lease.lua; its ack is EVALSHA claim.lua."""
    t = Tracer(r)
    q = lq.ReliableQueue(t.client, "trace-reliable", lease_seconds=5)
    with t.record("enqueue"):
        q.enqueue({"type": "x"})
    with t.record("dequeue"):
        job = q.dequeue(timeout=0.5)
    assert job is not None
    with t.record("ack"):
        assert q.ack(job) == 1
    move, lease = t.names("dequeue")
    assert move in ("BLMOVE", "BRPOPLPUSH") and lease == "EVALSHA lease.lua"
    assert t.names("ack") == ["EVALSHA claim.lua"]
    assert all(c.error is None for c in t.commands)
    assert q.processing_size() == 0


def test_tracer_records_pipelines_and_ignores_unrecorded_commands(r: Any) -> None:
    """Pipelined commands are recorded between MULTI and EXEC; commands outside record() are not."""
    t = Tracer(r)
    q = lq.ReliableQueue(t.client, "trace-pipe")
    q.enqueue({"type": "x"})  # not recorded
    job = q.dequeue()  # not recorded
    assert job is not None
    with t.record("bury"):
        q.bury(job, "poison")  # one script: the job and its meta into the DLQ, at the server's time
    assert t.names("bury") == ["EVALSHA bury.lua"]
    with t.record("move"):
        pipe = t.client.pipeline(transaction=True)
        pipe.hdel(q.keys.dlq, job.id)
        pipe.lpush(q.keys.waiting, job.raw)
        pipe.execute()
    assert t.names("move") == ["MULTI", "HDEL", "LPUSH", "EXEC"]
    assert all(c.pipeline for c in t.of("move")) and not t.of("bury")[0].pipeline
    assert len(t.commands) == 5
    t.clear()
    assert t.commands == []


# -- tally / experiments -------------------------------------------------------------------------
def test_tally_counts_the_job_lost_by_a_crash_on_a_simple_queue(r: Any) -> None:
    """A worker killed mid-job on a simple queue loses exactly that job, and the tally names it."""
    q = lq.SimpleQueue(r, "tally-simple")
    ids = [q.enqueue({"type": "work", "n": i}, job_id=f"job-{i}") for i in range(5)]
    log = ExecutionLog(work_seconds=0)
    worker = CrashingWorker(q, {"work": log.handler}, poll_seconds=0.1, burst=True, on_event=log.on_event)
    worker.crash()  # the first job it picks up kills it
    worker.run()
    assert q.size() == 4  # the worker died after one pop: four jobs still wait
    log2 = lq.Worker(q, {"work": log.handler}, poll_seconds=0.1, burst=True, on_event=log.on_event)
    log2.run()
    result = tally(q, ids, log)
    assert result.lost == 1 and result.lost_ids == ["job-0"]
    assert result.processed == 4 and result.crashed == 1 and result.processed_twice == 0
    assert q.size() == 0


def test_tally_counts_recovered_and_twice_on_a_reliable_queue(r: Any) -> None:
    """On a reliable queue a crashed delivery is re-queued: nothing lost, the job recovered."""
    q = lq.ReliableQueue(r, "tally-reliable", lease_seconds=0.3, max_attempts=5)
    ids = [q.enqueue({"type": "work", "n": i}, job_id=f"job-{i}") for i in range(4)]
    log = ExecutionLog(work_seconds=0)
    dying = CrashingWorker(q, {"work": log.handler}, poll_seconds=0.1, crash_point="after",
                           on_event=log.on_event, name="dying")
    dying.crash()
    dying.start()
    dying.join(5)
    assert q.processing_size() == 1  # the dead worker's job waits for its lease to expire
    survivor = lq.Worker(q, {"work": log.handler}, poll_seconds=0.1, on_event=log.on_event)
    survivor.start()
    assert wait_until(lambda: sum(log.completed().values()) >= 5 and q.processing_size() == 0)
    survivor.stop()
    result = tally(q, ids, log)
    assert result.lost == 0 and result.processed == 4
    assert result.crashed == 1 and result.recovered == 1 and result.processed_twice == 1
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


def test_ids_in_redis_finds_waiting_processing_and_dead_jobs(r: Any) -> None:
    """ids_in_redis reads job ids back from the waiting and processing lists and the DLQ hash."""
    q = lq.ReliableQueue(r, "ids", lease_seconds=5)
    for name in ("a", "b", "c"):
        q.enqueue({"type": "x"}, job_id=name)
    job = q.dequeue()
    assert job is not None and job.id == "a"
    q.bury(q.dequeue(), "test")  # type: ignore[arg-type]
    held = ids_in_redis(q)
    assert held["waiting"] == {"c"} and held["processing"] == {"a", "b"} and held["dead"] == {"b"}


def test_producer_enqueues_numbered_jobs_in_order(r: Any) -> None:
    """The producer enqueues job-0000.. in order and stops by itself."""
    q = lq.SimpleQueue(r, "producer")
    producer = Producer(q, 12, rate=400).start()
    producer.join(5)
    assert producer.done and producer.ids == [f"job-{i:04d}" for i in range(12)]
    assert [q.dequeue().id for _ in range(12)] == producer.ids  # type: ignore[union-attr]


def test_worker_pool_restarts_crashed_workers(r: Any) -> None:
    """A crashed pool worker is replaced, and the pool ends with every thread joined."""
    q = lq.ReliableQueue(r, "pool", lease_seconds=0.3)
    log = ExecutionLog(work_seconds=0)
    pool = WorkerPool(q, {"work": log.handler}, 1, on_event=log.on_event).start()
    assert wait_until(lambda: pool.alive() == 1)
    assert pool.crash_one() == "w1"
    q.enqueue({"type": "work"}, job_id="only")
    assert wait_until(lambda: pool.restarts >= 1 and log.completed()["only"] == 1)
    pool.stop()
    assert pool.alive() == 0 and pool.crashes() == 1
    assert q.counts()["processing"] == 0
    assert not [t for t in threading.enumerate() if t.name.startswith(("w1", "supervisor"))]


@pytest.mark.parametrize("kind", ["simple", "reliable"])
def test_experiment_with_crashes_accounts_for_every_job(r: Any, kind: str) -> None:
    """Every submitted job is processed, lost or dead; the reliable queue loses none."""
    q: Any = (lq.SimpleQueue(r, "exp") if kind == "simple"
              else lq.ReliableQueue(r, "exp", lease_seconds=0.3, max_attempts=10))
    result = Experiment(q, jobs=30, rate=300, workers=3, work_seconds=0.005, crash_probability=0.2,
                        crash_point="before", seed=3, max_seconds=20).run()
    t = result.tally
    assert not result.stopped_early
    assert t.submitted == 30 and t.crashed >= 1
    assert t.processed + t.lost + t.dead + t.pending == 30
    if kind == "simple":
        assert t.lost == t.crashed  # every crash before the work loses its job
    else:
        assert t.lost == 0 and t.processed == 30 and t.recovered >= 1
        assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


# -- the chapter's pitfall -----------------------------------------------------------------------
@SINGLE_NODE
def test_chapter_ack_never_empties_processing_while_labqueue_does(r: Any) -> None:
    """The chapter's ack re-serialises a modified job so LREM misses; labqueue's ack empties processing."""
    chapter = ChapterReliableQueue(r, "pitfall")
    ours = lq.ReliableQueue(r, "pitfall")
    for i in range(3):
        chapter.enqueue({"type": "x", "n": i})
        ours.enqueue({"type": "x", "n": i})
    acks = []
    for _ in range(3):
        job = chapter.dequeue()
        assert job is not None
        acks.append(chapter.ack(job))
    assert acks == [False, False, False]
    assert chapter.processing_size() == 3 and chapter.size() == 0
    for _ in range(3):
        job2 = ours.dequeue()
        assert job2 is not None and ours.ack(job2) == 1
    assert ours.processing_size() == 0 and ours.counts()["waiting"] == 0
    assert chapter.clear() == 1


@SINGLE_NODE
def test_chapter_recovery_requeues_a_live_workers_job_while_labqueue_does_not(r: Any) -> None:
    """The chapter's recovery re-queues a job started a moment ago; labqueue's keeps a leased job."""
    chapter = ChapterReliableQueue(r, "pitfall2")
    chapter.enqueue({"type": "x"})
    live_job = chapter.dequeue()
    assert live_job is not None
    assert chapter.recover_stale_jobs(timeout_seconds=300) == 1
    assert chapter.size() == 1 and chapter.processing_size() == 0
    again = chapter.dequeue()
    assert again is not None and again["id"] == live_job["id"]  # a second worker gets it too

    ours = lq.ReliableQueue(r, "pitfall2", lease_seconds=300)
    ours.enqueue({"type": "x"})
    assert ours.dequeue() is not None
    assert ours.recover_stale_jobs() == {"requeued": 0, "dead": 0, "orphans": 0}
    assert ours.size() == 0 and ours.processing_size() == 1


@SINGLE_NODE
def test_chapter_nack_leaves_the_failed_job_in_processing_and_requeues_a_copy(r: Any) -> None:
    """The chapter's nack misses its LREM too: the job is both in processing and waiting again."""
    chapter = ChapterReliableQueue(r, "pitfall3")
    chapter.enqueue({"type": "x"})
    job = chapter.dequeue()
    assert job is not None
    chapter.nack(job)
    assert chapter.processing_size() == 1 and chapter.size() == 1


# -- sampler and panel ---------------------------------------------------------------------------
def test_sampler_records_probes_and_rates(r: Any) -> None:
    """The sampler keeps probe values over time and derives a per-second rate; threads joined."""
    q = lq.ReliableQueue(r, "sampler")
    counter = {"n": 0.0}

    def done() -> float:
        counter["n"] += 1
        return counter["n"]

    s = Sampler({**queue_probes(q), "done": done}, rates={"throughput": "done"}, interval=0.02,
                redraw=0.05)
    q.enqueue({"type": "x"})
    s.start()
    assert wait_until(lambda: len(s.samples) >= 5)
    s.stop()
    df = s.frame()
    assert {"waiting", "processing", "dead", "done", "throughput"} <= set(df.columns)
    assert df["waiting"].iloc[-1] == 1 and df["throughput"].max() > 0
    assert s.error is None and s.widget.value[:4] == b"\x89PNG"
    assert not [t for t in threading.enumerate() if t.name.startswith("sampler")]


def test_render_png_gives_png_bytes() -> None:
    """A sampler figure renders to PNG without pyplot."""
    s = Sampler({"a": lambda: 1.0}, live=False)
    s.t0 = time.time()
    s.sample()
    s.sample()
    assert render_png(s.figure())[:4] == b"\x89PNG"


def test_control_panel_classes_defaults_and_progress() -> None:
    """The panel carries lq-panel, its live widgets lq-live, and its defaults are its values."""
    panel = ControlPanel(workers=2, rate=30, crash_probability=0.1, jobs=20)
    assert "lq-panel" in panel.box._dom_classes
    for w in (panel.progress, panel.status, panel.counters):
        assert "lq-live" in w._dom_classes
    assert panel.values() == {"workers": 2, "rate": 30.0, "crash_probability": 0.1, "jobs": 20}
    panel.show_progress({"completed": 7, "crashes": 1}, 20, "running")
    assert panel.progress.value == 7 and panel.status.value == "running" and "crashes" in panel.counters.value
    assert "lq-live" in progress_bar(5)._dom_classes


def test_control_panel_launches_and_crashes_a_worker(r: Any) -> None:
    """launch() starts the experiment from the panel's values; crash_now kills a worker; wait() joins."""
    q = lq.ReliableQueue(r, "panel", lease_seconds=0.3, max_attempts=10)
    panel = ControlPanel(workers=2, rate=200, jobs=20)
    experiment = panel.launch(lambda v: Experiment(q, jobs=v["jobs"], rate=v["rate"], workers=v["workers"],
                                                   work_seconds=0.02, seed=1), display=False)
    assert wait_until(lambda: experiment.pool.busy())
    panel.crash_now()
    result = panel.wait()
    assert result.tally.lost == 0 and result.tally.processed == 20 and result.tally.crashed == 1
    assert panel.progress.value >= 20 and panel.status.value.startswith("done")


def test_import_labqueue_does_not_import_the_lab() -> None:
    """`import labqueue` loads neither labqueue.lab nor pandas, matplotlib or ipywidgets."""
    code = ("import sys, labqueue; bad = [m for m in ('labqueue.lab', 'pandas', 'matplotlib', 'ipywidgets') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# -- static plots and diagrams -------------------------------------------------------------------
def test_plots_render_an_execution_timeline_and_grouped_bars(r: Any) -> None:
    """The timeline (crash marked) and grouped bars render to PNG from a real execution log."""
    from labqueue.lab import plots

    q = lq.SimpleQueue(r, "plots")
    ids = [q.enqueue({"type": "work", "seconds": 0.001}, job_id=f"job-{i}") for i in range(4)]
    log = ExecutionLog(work_seconds=lambda job: job.data["seconds"])
    worker = CrashingWorker(q, {"work": log.handler}, name="w1", poll_seconds=0.1, burst=True, on_event=log.on_event)
    worker.crash()
    worker.run()
    frame = log.frame()
    assert list(frame["outcome"]) == ["crashed"] and frame["worker"][0] == "w1"
    lq.Worker(q, {"work": log.handler}, name="w2", poll_seconds=0.1, burst=True, on_event=log.on_event).run()
    assert render_png(plots.timeline(log.frame()))[:4] == b"\x89PNG"
    counts = tally(q, ids, log)
    table = {"simple": {"lost": counts.lost, "processed": counts.processed}}
    assert render_png(plots.grouped_bars(table))[:4] == b"\x89PNG"
    assert counts.lost == 1 and counts.processed == 3


def test_side_by_side_shows_the_diagram_and_the_traced_commands(r: Any) -> None:
    """side_by_side puts the chapter's diagram and each recorded command in one HTML block."""
    from labqueue.lab import diagrams, plots

    t = Tracer(r)
    with t.record("enqueue"):
        lq.SimpleQueue(t.client, "side").enqueue({"type": "x"})
    html = plots.side_by_side(diagrams.SIMPLE_QUEUE, t).data
    assert "SIMPLE QUEUE (LIST)" in html and "LPUSH lq:{side}:waiting" in html


def test_histogram_quantile_interpolates_inside_the_bucket():
    """histogram_quantile interpolates linearly inside the bucket, it does not return its upper bound."""
    from labqueue.lab.monitoring import histogram_quantile

    buckets = [(0.01, 50.0), (0.025, 90.0), (0.05, 100.0), (float("inf"), 100.0)]
    value, low, high = histogram_quantile(0.95, buckets)
    assert (low, high) == (0.025, 0.05)
    assert abs(value - 0.0375) < 1e-12               # halfway: rank 95 is 5 of the bucket's 10
    assert histogram_quantile(0.5, buckets)[0] == 0.01
    assert histogram_quantile(0.25, buckets)[0] == 0.005  # first bucket: from 0
