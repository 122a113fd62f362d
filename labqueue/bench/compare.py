"""`--compare`: RQ (SimpleWorker, no fork) and BullMQ (Node) measured the same way on the same server.

Both are optional extras, never requirements of the lab, and neither is installed into the project:
on first use, RQ is pip-installed (`pip install --target`) and BullMQ npm-installed (when `node` and
`npm` are on PATH) into a cache folder outside the repository, `cache_dir()`: $LABQUEUE_BENCH_CACHE,
else $XDG_CACHE_HOME/labqueue/bench, else ~/.cache/labqueue/bench. The versions are pinned (RQ_VERSION,
BULLMQ_VERSION) so two runs compare the same libraries; an RQ already importable is used as it is.
Each returns the same metrics as a labqueue pattern, or a reason it was skipped.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .measure import chunks, rate, used_memory


def noop(i: int) -> None:
    """The RQ job: does nothing (RQ imports it by its dotted name, as RQ does)."""


RQ_VERSION = "3.0.0"  # the versions measured (the README's table); a new pin installs beside the old one
BULLMQ_VERSION = "6.7.0"
IOREDIS_VERSION = "6.0.0"  # BullMQ 6 needs ioredis installed beside it


def cache_dir() -> Path:
    """Where the compared libraries are installed on first use (never inside the repository)."""
    if os.environ.get("LABQUEUE_BENCH_CACHE"):
        return Path(os.environ["LABQUEUE_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labqueue" / "bench"


def _ensure_rq() -> Any:
    """`import rq`: the interpreter's own if it has one, else the pinned one from the cache folder.

    The cache folder is appended to sys.path, so the interpreter's redis-py (and anything else it
    has) wins over the copies pip put there as RQ's dependencies.
    """
    try:
        return importlib.import_module("rq")
    except ImportError:
        pass
    target = cache_dir() / f"rq-{RQ_VERSION}"
    if not (target / "rq").is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--target", str(target), f"rq=={RQ_VERSION}"],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"pip install rq=={RQ_VERSION} failed: {_last_line(done.stderr)}")
    if str(target) not in sys.path:
        sys.path.append(str(target))
    importlib.invalidate_caches()
    return importlib.import_module("rq")


def run_rq(url: str, n: int) -> dict[str, Any]:
    """RQ enqueue (one by one, enqueue_many by 500), SimpleWorker burst rate, bytes per waiting job."""
    try:
        rq = _ensure_rq()
    except Exception as exc:  # no network, no pip: say so, measure the rest
        return {"skipped": f"rq not installable: {exc}"}
    import redis

    conn = redis.Redis.from_url(url)
    queue = rq.Queue(f"lqbench-{int(time.time() * 1000)}", connection=conn)
    ids: list[str] = []
    try:
        t = time.perf_counter()
        for i in range(n):
            ids.append(queue.enqueue(noop, i, result_ttl=0).id)
        one = rate(n, time.perf_counter() - t)
        _empty_rq(queue, ids)
        before = used_memory(conn)
        t = time.perf_counter()
        for part in chunks(n):
            jobs = queue.enqueue_many([rq.Queue.prepare_data(noop, (i,), result_ttl=0) for i in part])
            ids.extend(job.id for job in jobs)
        bulk = rate(n, time.perf_counter() - t)
        after = used_memory(conn)
        worker = rq.SimpleWorker([queue], connection=conn)
        t = time.perf_counter()
        worker.work(burst=True, logging_level="ERROR")
        processed = rate(n, time.perf_counter() - t)
        left = queue.count
        if left:
            raise RuntimeError(f"RQ left {left} jobs")
    finally:
        _empty_rq(queue, ids)
        conn.close()
    return {"version": getattr(rq, "__version__", getattr(rq, "VERSION", "?")),
            "n": n, "enqueue_one": one, "enqueue_bulk": bulk, "process_1": processed,
            "bytes_per_job": None if before is None or after is None else (after - before) / n}


def _empty_rq(queue: Any, ids: list[str]) -> None:
    """Delete this run's RQ keys only: its queue's keys and its own jobs (never other RQ jobs)."""
    queue.empty()
    conn = queue.connection
    for key in conn.scan_iter(match=f"rq:*{queue.name}*", count=1000):
        conn.delete(key)
    for part in chunks(len(ids), 1000):
        conn.delete(*(f"rq:job:{ids[i]}" for i in part))
    ids.clear()


BULLMQ_SCRIPT = r"""
// add one by one, addBulk by 500, Worker concurrency 1 and C on the same N jobs; prints one JSON line.
const { Queue, Worker } = require('bullmq');
const [url, n, conc, name] = [process.argv[2], +process.argv[3], +process.argv[4], process.argv[5]];
const u = new URL(url);
const connection = { host: u.hostname, port: +u.port, maxRetriesPerRequest: null };
const opts = { removeOnComplete: true, removeOnFail: true };
const IORedis = require('ioredis');
const probe = new IORedis(url);
const mem = async () => +(/used_memory:(\d+)/.exec(await probe.info('memory'))[1]);
const bulk = async (q) => {
  for (let s = 0; s < n; s += 500) {
    const jobs = [];
    for (let i = s; i < Math.min(n, s + 500); i++) jobs.push({ name: 'noop', data: { i }, opts });
    await q.addBulk(jobs);
  }
};
const drain = (q, concurrency) => new Promise((resolve) => {
  let done = 0; const t = process.hrtime.bigint();
  const w = new Worker(name, async () => {}, { connection, concurrency });
  w.on('completed', () => { if (++done === n) { const s = Number(process.hrtime.bigint() - t) / 1e9;
    w.close().then(() => resolve(n / s)); } });
});
(async () => {
  const q = new Queue(name, { connection });
  let t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await q.add('noop', { i }, opts);
  const one = n / (Number(process.hrtime.bigint() - t) / 1e9);
  await q.obliterate({ force: true });
  const before = await mem();
  t = process.hrtime.bigint();
  await bulk(q);
  const bulkRate = n / (Number(process.hrtime.bigint() - t) / 1e9);
  const perJob = ((await mem()) - before) / n;
  const p1 = await drain(q, 1);
  await bulk(q);
  const pc = await drain(q, conc);
  await q.obliterate({ force: true });
  await q.close();
  probe.disconnect();
  const version = require('bullmq/package.json').version;
  console.log(JSON.stringify({ version, n, enqueue_one: one, enqueue_bulk: bulkRate,
    bytes_per_job: perJob, process_1: p1, process_k: pc, threads: conc }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def bullmq_dir() -> Path:
    """The cache folder holding node_modules/bullmq (the pinned version, installed on first use)."""
    return cache_dir() / f"bullmq-{BULLMQ_VERSION}"


def run_bullmq(url: str, n: int, concurrency: int = 10) -> dict[str, Any]:
    """BullMQ add / addBulk / Worker (concurrency 1 and `concurrency`) through a small node script."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return {"skipped": "node and npm are not on PATH"}
    folder = bullmq_dir()
    folder.mkdir(parents=True, exist_ok=True)
    installed = all((folder / "node_modules" / name / "package.json").exists() for name in ("bullmq", "ioredis"))
    if not installed:
        (folder / "package.json").write_text('{"name": "labqueue-bench-bullmq", "private": true}')
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--save-exact",
                               f"bullmq@{BULLMQ_VERSION}", f"ioredis@{IOREDIS_VERSION}"],
                              cwd=folder, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return {"skipped": f"npm install bullmq@{BULLMQ_VERSION} failed: {_last_line(done.stderr)}"}
    (folder / "bench.js").write_text(BULLMQ_SCRIPT)
    done = subprocess.run([node, "bench.js", url, str(n), str(concurrency), f"lqbench{int(time.time())}"],
                          cwd=folder, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"skipped": f"the BullMQ script failed: {_last_line(done.stderr)}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _last_line(text: str) -> str:
    """The line of a Node/npm error output that names the error, on one line for the table."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    named = [line for line in lines if "Error" in line and not line.startswith("at ")]
    return (named[0] if named else (lines[-1] if lines else "no output"))[:200]
