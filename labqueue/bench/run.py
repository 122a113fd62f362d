"""One benchmark run: start (or reach) the server, measure baselines and every pattern, check targets."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

from ..connection import connect, describe
from ..lab.i18n import _
from . import measure
from .patterns import Pattern, patterns

Progress = Callable[[str, int, int], None]


def _client(url: str | None, fake: bool) -> Any:
    if fake:  # the embedded fakeredis of this process (every key of the run is its own and deleted)
        import fakeredis

        from ..connection import _embedded_server

        return fakeredis.FakeRedis(server=_embedded_server(), decode_responses=False)
    return connect(url, decode_responses=False)


def run(n: int = 20000, threads: int = 4, *, url: str | None = None, fake: bool = False,
        compare: bool = False, imports: bool = True, prefetch: int = 50,
        lease: float = 2.0, lateness_jobs: int | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    """Measure everything once; returns the JSON-ready results (see report.py for the table).

    With neither `url` nor `fake`, a private redis-server is started for the run and stopped after.
    On a server given by `url` nothing is flushed: every key used is this run's own and is deleted.
    """
    if n < 10 or threads < 1 or prefetch < 1 or lease <= 0:
        raise ValueError("need n >= 10, threads >= 1, prefetch >= 1 and lease > 0")
    server = None
    if not fake and url is None:
        from ..lab.server import RedisServer

        server = RedisServer().start()
        url = server.url
    try:
        return _run(n, threads, url, fake, compare, imports, prefetch, lease, lateness_jobs, progress)
    finally:
        if server is not None:
            server.stop()


def _run(n: int, threads: int, url: str | None, fake: bool, compare: bool, imports: bool, prefetch: int,
         lease: float, lateness_jobs: int | None, progress: Progress | None) -> dict[str, Any]:
    client = _client(url, fake)
    found = patterns(prefetch)
    steps = 1 + len(found) + 1 + (2 if compare else 0) + 1  # baselines, patterns, imports, RQ+BullMQ, done
    step = [0]

    def tick(label: str) -> None:
        if progress is not None:
            progress(label, step[0], steps)
        step[0] += 1

    started = time.time()
    backend = describe(client)
    tag = f"bench{os.getpid()}x{int(started * 1000) % 100000}"
    late_jobs = lateness_jobs or max(20, min(200, n // 10))
    try:
        tick(_("raw redis-py baselines"))
        baseline = measure.raw_baselines(client, f"lq:{{{tag}}}:raw", n, fake)
        systems: list[dict[str, Any]] = []
        for i, pattern in enumerate(found):
            tick(f"labqueue {pattern.name}")
            queue = pattern.make(client, f"{tag}-{i}", lease)
            systems.append(_pattern(pattern, queue, n, threads, fake, url, lease, late_jobs))
        tick(_("import time") if imports else _("import time (skipped)"))
        import_times = {key: measure.import_ms(statement) if imports else None
                        for key, statement in measure.IMPORTS.items()}
        if compare:
            from . import compare as cmp

            if fake or url is None:
                systems.append({"system": "RQ SimpleWorker", "kind": "other", "skipped": "needs a real server"})
                systems.append({"system": "BullMQ", "kind": "other", "skipped": "needs a real server"})
            else:
                tick(_("RQ SimpleWorker (pip install rq if missing)"))
                rq_n = min(n, 3000)  # RQ runs about 150 jobs/s here: a full N would take minutes
                systems.append({"system": "RQ SimpleWorker", "kind": "other", **cmp.run_rq(url, rq_n)})
                tick(_("BullMQ (node; npm install bullmq if missing)"))
                systems.append({"system": "BullMQ", "kind": "other", "threads": 10, **cmp.run_bullmq(url, n, 10)})
    except BaseException:  # interrupted (Ctrl-C in a notebook) or failed: leave no key of this run behind
        for key in client.scan_iter(match=f"lq:{{{tag}*", count=1000):
            client.delete(key)
        raise
    tick(_("done"))
    client.close()
    result = {"meta": {"backend": backend, "fake": fake, "n": n, "threads": threads,
                       "prefetch": prefetch, "lease_s": lease, "lateness_jobs": late_jobs,
                       "python": platform.python_version(), "cpus": os.cpu_count(),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                       "duration_s": time.time() - started},
              "baseline": baseline, "systems": systems, "import_ms": import_times}
    result["targets"] = targets(result)
    return result


def _pattern(pattern: Pattern, queue: Any, n: int, threads: int, fake: bool, url: str | None,
             lease: float, late_jobs: int) -> dict[str, Any]:
    row: dict[str, Any] = {"system": f"labqueue {pattern.name}", "kind": "labqueue", "n": n,
                           "threads": threads, "prefetch": pattern.prefetch,
                           **measure.enqueue_rates(pattern, queue, n),
                           "process_1": measure.process_rate(pattern, queue, n, 1),
                           "process_k": measure.process_rate(pattern, queue, n, threads)}
    if not pattern.extras:
        return row
    if pattern.delayed is not None:
        row["lateness_p50_ms"], row["lateness_p99_ms"] = measure.delayed_lateness(pattern, queue, late_jobs)
        row["lateness_kind"] = "delayed jobs"
    elif pattern.leased:
        row["lateness_p50_ms"], row["lateness_p99_ms"] = measure.retry_lateness(pattern, queue, late_jobs)
        row["lateness_kind"] = "retries (nack backoff through the delayed set)"
    if pattern.leased:
        if fake or url is None:
            row.update(measure.redelivery_killed_thread(pattern, queue, lease))
        else:
            row.update(measure.redelivery_killed_process(pattern, url, queue, lease))
            row["redelivery_kind"] = "worker process SIGKILLed holding the job"
    else:
        row["redelivery_kind"] = "never: a killed worker's job is lost"
    return row


def _get(result: dict[str, Any], system: str) -> dict[str, Any] | None:
    for row in result["systems"]:
        if row["system"] == system and "skipped" not in row:
            return row
    return None


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value, the goal and whether it is met (None: n/a)."""
    base = result["baseline"]
    reliable = [r for r in result["systems"] if r["system"].startswith("labqueue reliable")]
    rq, bull = _get(result, "RQ SimpleWorker"), _get(result, "BullMQ")
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: float, higher: bool, unit: str, note: str = "") -> None:
        met = None if value is None else (value >= goal if higher else value < goal)
        out.append({"target": name, "value": value, "goal": goal, "unit": unit, "met": met, "note": note})

    if not reliable:
        return out
    best = max(reliable, key=lambda r: max(r["process_1"], r["process_k"]))
    top = max(best["process_1"], best["process_k"])
    add(f"reliable worker ({best['system']}) / BullMQ concurrency 10", top / bull["process_k"] if bull else None,
        2.0, True, "x")
    add(f"reliable worker ({best['system']}) / RQ SimpleWorker", top / rq["process_1"] if rq else None,
        30.0, True, "x")
    add(f"reliable worker ({best['system']}) / raw BLMOVE+LREM", top / base["process_blmove_lrem"], 1.0, True, "x")
    first = reliable[0]
    add("reliable enqueue one by one / raw LPUSH (paired blocks)", first["enqueue_one"] / first["enqueue_one_raw"],
        0.8, True, "x")
    add("reliable bulk enqueue / BullMQ addBulk", first["enqueue_bulk"] / bull["enqueue_bulk"] if bull else None,
        2.0, True, "x")
    add("reliable Redis bytes per waiting job", first["bytes_per_job"], 200.0, False, "B")
    jq = _get(result, "labqueue JobQueue (production)")
    if jq is not None:  # issue 14: the production queue against BullMQ
        add("JobQueue worker / BullMQ concurrency 10",
            max(jq["process_1"], jq["process_k"]) / bull["process_k"] if bull else None, 2.0, True, "x")
        add("JobQueue add one by one / BullMQ add", jq["enqueue_one"] / bull["enqueue_one"] if bull else None,
            1.0, True, "x")
        add("JobQueue add_bulk / BullMQ addBulk", jq["enqueue_bulk"] / bull["enqueue_bulk"] if bull else None,
            2.0, True, "x")
    for row in result["systems"]:
        if "lateness_p99_ms" in row:
            add(f"{row['system']} {row['lateness_kind'].split(' (')[0]} p99 lateness", row["lateness_p99_ms"],
                10.0, False, "ms")
    for row in result["systems"]:
        if "redelivery_s" in row:
            add(f"{row['system']}: killed worker's job re-delivered within one lease (+50 ms)",
                row["redelivery_s"], row["lease_s"] + 0.05, False, "s")
    imp = result["import_ms"]
    if imp["labqueue"] is not None:
        add("import labqueue (lazy: loads no queue module)", imp["labqueue"], 150.0, False, "ms",
            f"`from labqueue import ReliableQueue, connect` (imports redis-py): {imp['labqueue_queue']:.0f} ms")
    return out
