"""The benchmark runs on a tiny N and its figures are well formed (a smoke test, never a timing test)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from labqueue.bench import run
from labqueue.bench.report import summary, table, write_json
from labqueue.bench.run import targets
from labqueue.lab.server import redis_server_binary

RATES = ("enqueue_one", "enqueue_bulk", "process_1", "process_k")
LEASED = ("labqueue reliable prefetch 1", "labqueue JobQueue (production)")


def check_result(result: dict[str, Any], fake: bool) -> None:
    base = result["baseline"]
    for key in ("enqueue_one", "enqueue_bulk", "process_blmove_lrem", "process_rpop"):
        assert base[key] > 0 and math.isfinite(base[key]), key
    names = [row["system"] for row in result["systems"]]
    assert "labqueue simple" in names and set(LEASED) <= set(names)
    assert not any("prototype" in row["system"] or "prototype" in row for row in result["systems"])
    for row in result["systems"]:
        for key in RATES:
            assert row[key] > 0 and math.isfinite(row[key]), (row["system"], key)
        if fake:
            assert row["bytes_per_job"] is None
        else:
            assert 10 < row["bytes_per_job"] < 10_000, row["system"]
    for leased in (r for r in result["systems"] if r["system"] in LEASED):
        assert 0 <= leased["lateness_p50_ms"] <= leased["lateness_p99_ms"], leased["system"]
        assert leased["redelivery_s"] >= leased["lease_left_at_kill_s"] - 0.01  # never while leased
        assert 0 < leased["redelivery_s"] < 3 * leased["lease_s"] + 5
    assert {t["met"] for t in result["targets"]} <= {True, False, None}
    assert set(result["import_ms"]) == {"labqueue", "labqueue_queue", "redis"}


def test_bench_fake_tiny(tmp_path: Any) -> None:
    """On the embedded fakeredis a tiny run measures every pattern, leaves no key, and writes JSON."""
    import fakeredis

    steps: list[str] = []
    result = run(n=60, threads=2, fake=True, lease=0.5, lateness_jobs=5, imports=False,
                 progress=lambda label, done, total: steps.append(label))
    check_result(result, fake=True)
    assert steps[0] == "raw redis-py baselines" and steps[-1] == "done"
    out = tmp_path / "bench.json"
    write_json(result, out)
    assert json.loads(out.read_text())["meta"]["n"] == 60
    assert "| labqueue reliable prefetch 1 |" in table(result)
    assert "| labqueue JobQueue (production) |" in table(result)
    assert "Targets of issues 6 and 14" in summary(result)
    from labqueue.connection import _embedded_server

    assert fakeredis.FakeRedis(server=_embedded_server()).keys("lq:{bench*") == []


def test_bench_real_server_leaves_no_key() -> None:
    """On a given server URL the run measures memory and the kill -9 re-delivery, and deletes its keys."""
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    import redis

    from labqueue.lab.server import RedisServer

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        client.set("someone-else", "kept")
        result = run(n=60, threads=2, url=server.url, lease=0.5, lateness_jobs=5, imports=False)
        check_result(result, fake=False)
        for row in result["systems"]:
            if row["system"] in LEASED:
                assert "SIGKILL" in row["redelivery_kind"], row["system"]
        assert client.keys("*") == [b"someone-else"]
        client.close()


def test_import_target_measures_plain_import_and_names_the_other() -> None:
    """The import target is judged on plain `import labqueue` and also prints what a queue user pays."""
    result = {"baseline": {"process_blmove_lrem": 1.0}, "import_ms": {"labqueue": 8.0, "labqueue_queue": 190.0,
                                                                        "redis": 160.0},
              "systems": [{"system": "labqueue reliable prefetch 1", "process_1": 2.0, "process_k": 2.0,
                           "enqueue_one": 1.0, "enqueue_one_raw": 1.0, "bytes_per_job": None}]}
    target = next(t for t in targets(result) if t["target"].startswith("import labqueue"))
    assert target["value"] == 8.0 and target["met"] is True
    assert "from labqueue import ReliableQueue, connect" in target["note"] and "190 ms" in target["note"]


def test_issue14_targets_compare_the_production_queue_with_bullmq() -> None:
    """The production queue's three targets of issue 14 against BullMQ: processing (best of 1 and K
    threads) >= 2x concurrency 10, add one by one >= 1x add, add_bulk >= 2x addBulk; n/a without BullMQ."""
    reliable = {"system": "labqueue reliable prefetch 1", "process_1": 2.0, "process_k": 2.0, "enqueue_one": 1.0,
                "enqueue_one_raw": 1.0, "enqueue_bulk": 1.0, "bytes_per_job": None}
    jq = {"system": "labqueue JobQueue (production)", "process_1": 500.0, "process_k": 2100.0,
          "enqueue_one": 900.0, "enqueue_bulk": 30000.0, "bytes_per_job": None}
    bull = {"system": "BullMQ", "process_k": 1000.0, "enqueue_one": 1000.0, "enqueue_bulk": 10000.0}
    result = {"baseline": {"process_blmove_lrem": 1.0}, "import_ms": {"labqueue": None},
              "systems": [reliable, jq, bull]}
    found = {t["target"]: t for t in targets(result) if t["target"].startswith("JobQueue")}
    assert {name: (round(t["value"], 2), t["goal"], t["met"]) for name, t in found.items()} == {
        "JobQueue worker / BullMQ concurrency 10": (2.1, 2.0, True),
        "JobQueue add one by one / BullMQ add": (0.9, 1.0, False),
        "JobQueue add_bulk / BullMQ addBulk": (3.0, 2.0, True)}
    result["systems"][2] = {"system": "BullMQ", "skipped": "node and npm are not on PATH"}
    assert {t["met"] for t in targets(result) if t["target"].startswith("JobQueue")} == {None}


def test_compared_libraries_are_cached_outside_the_repository(monkeypatch: Any, tmp_path: Any) -> None:
    """RQ and BullMQ install (pinned) into $LABQUEUE_BENCH_CACHE, else $XDG_CACHE_HOME/labqueue/bench,
    else ~/.cache/labqueue/bench: never into the checkout or the project's virtualenv."""
    from pathlib import Path

    from labqueue.bench import compare

    monkeypatch.delenv("LABQUEUE_BENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compare.cache_dir() == tmp_path / "xdg" / "labqueue" / "bench"
    assert compare.bullmq_dir() == compare.cache_dir() / f"bullmq-{compare.BULLMQ_VERSION}"
    monkeypatch.setenv("LABQUEUE_BENCH_CACHE", str(tmp_path / "own"))
    assert compare.cache_dir() == tmp_path / "own"
    monkeypatch.delenv("LABQUEUE_BENCH_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compare.cache_dir() == Path.home() / ".cache" / "labqueue" / "bench"
    repo = Path(__file__).resolve().parents[1]
    assert repo not in compare.cache_dir().resolve().parents


def test_cli_fake_json_and_chart(tmp_path: Any) -> None:
    """`python -m labqueue.bench --fake` prints the table and writes the JSON and the PNG chart."""
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    done = subprocess.run([sys.executable, "-m", "labqueue.bench", "--fake", "--n", "40", "--threads", "2",
                           "--lease", "0.5", "--skip-imports", "--json", str(out), "--chart", str(png)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "raw redis-py" in done.stdout and "Targets of issues 6 and 14" in done.stdout
    assert json.loads(out.read_text())["meta"]["fake"] is True
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_block_is_rewritten_from_a_run(tmp_path: Any) -> None:
    """`--readme README.md` rewrites only the block between the markers: run line, table, targets, chart."""
    from importlib.resources import files

    from labqueue.bench.report import README_BEGIN, README_END, write_readme

    result = json.loads(files("labqueue.bench").joinpath("reference_run.json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"# before\n\n{README_BEGIN}\nold table\n{README_END}\n\nafter\n")
    write_readme(result, readme, json_path="labqueue/bench/reference_run.json",
                 chart_path="labqueue/bench/reference_run.png")
    text = readme.read_text()
    assert text.startswith(f"# before\n\n{README_BEGIN}\nOne run on this ") and text.endswith(f"{README_END}\n\nafter\n")
    assert "old table" not in text and table(result) in text
    assert "| labqueue reliable prefetch 1 |" in text and "![labqueue against raw redis-py" in text
    assert text.count("- **MET** ") + text.count("- **MISSED** ") + text.count("- **n/a** ") == len(targets(result))
    assert "JobQueue add one by one / BullMQ add" in text  # judged by today's targets, even on an older JSON
    write_readme(result, readme, json_path="labqueue/bench/reference_run.json")  # twice: same block, no chart
    assert text.replace("\n\n![labqueue against raw redis-py, RQ and BullMQ](labqueue/bench/reference_run.png)",
                        "") == readme.read_text()
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="no benchmark block"):
        write_readme(result, readme)
    done = subprocess.run([sys.executable, "-m", "labqueue.bench", "--fake", "--readme", str(readme)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--readme needs --json" in done.stderr


def test_the_repository_readme_has_the_benchmark_block() -> None:
    from pathlib import Path

    from labqueue.bench.report import README_BEGIN, README_END

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert text.count(README_BEGIN) == 1 and text.index(README_BEGIN) < text.index(README_END)
    assert "--json labqueue/bench/reference_run.json --chart labqueue/bench/reference_run.png --readme README.md" in text


def test_round_trips_per_job(r: Any) -> None:
    """A reliable worker thread claims a batch in one round trip: 20 jobs take 2 claim.lua calls."""
    from labqueue import ReliableQueue
    from labqueue.bench.roundtrips import count_round_trips

    queue = ReliableQueue(r, "rt")
    queue.enqueue_many([{"i": i} for i in range(20)])
    queue.claim(0)  # loads the script (the first EVALSHA answers NOSCRIPT, then SCRIPT LOAD)
    with count_round_trips(r) as trips:
        jobs, _ = queue.claim(20)
        queue.ack(*jobs)
    assert trips.count == 2 and set(trips.commands) == {"EVALSHA"}
    assert queue.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


def test_cli_cluster_tiny(tmp_path: Any) -> None:
    """`python -m labqueue.bench --cluster` on a tiny N: one server and a cluster measured, every job
    processed on both, the durable cost measured, the two tables printed (figures, not targets)."""
    from tests.conftest import require_cluster_tools

    require_cluster_tools()
    out = tmp_path / "cluster.json"
    done = subprocess.run([sys.executable, "-m", "labqueue.bench", "--cluster", "--n", "600", "--queues", "3",
                           "--procs", "1", "--threads", "2", "--durable-jobs", "40", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [row["backend"] for row in result["rows"]] == ["one server", "cluster"]
    assert result["rows"][1]["describe"].startswith("Redis Cluster") and "3 masters" in result["rows"][1]["describe"]
    for row in result["rows"]:
        assert row["jobs"] == 600 and row["enqueue_bulk"] > 0 and row["process"] > 0, row
    durable = result["durable"]
    assert durable["durable"]["rate"] > 0 and durable["plain"]["rate"] > 0
    assert 0 < durable["durable"]["p50_ms"] <= durable["durable"]["p99_ms"]
    assert "| durable (LPUSH + WAIT 1) |" in done.stdout and "Redis Cluster" in done.stdout
