"""`python -m labqueue.bench --cluster`: N queues on one server against the same N queues spread over the
masters of a Redis Cluster, in the same run, and what durable enqueue (WAIT) costs.

Both backends are private and started for the run (a redis-server, and a labqueue.lab.localcluster
3 masters + 3 replicas), unless `cluster_url` names a cluster to use. Each measurement:

- enqueue: `enqueue_many` by batches of 500, round-robin over the N queues (one process);
- process: P worker processes, each draining its share of the queues with a reliable Worker per queue
  (prefetch, K threads); the rate counts from the first process's start to the last one's end;
- durable: one-by-one `enqueue` on one cluster queue, plain then `durable=True` (LPUSH + WAIT 1):
  jobs/s and latency p50/p99.

On a machine with few cores every Redis node competes with the client processes for the same cores:
the cluster's extra masters then add no CPU, only routing and replication work. Read the ratio with
the core count printed beside it.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from typing import Any

BATCH = 500


def _drain(url: str, names: list[str], prefetch: int, threads: int, expected: int) -> tuple[float, float, int]:
    """Child process: drain `names` with one burst Worker per queue; (start, end, jobs done)."""
    from ..connection import connect
    from ..reliable import ReliableQueue
    from ..worker import Worker

    client = connect(url, decode_responses=False)
    done = [0]

    def handle(job: Any) -> None:
        done[0] += 1

    workers = [Worker(ReliableQueue(client, name, lease_seconds=10), {"work": handle}, concurrency=threads,
                      prefetch=prefetch, burst=True, poll_seconds=0.05) for name in names]
    start = time.time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return start, time.time(), done[0]


def _throughput(url: str, tag: str, n: int, queues: int, procs: int, prefetch: int, threads: int) -> dict[str, Any]:
    from ..connection import connect
    from ..reliable import ReliableQueue

    client = connect(url, decode_responses=False)
    qs = [ReliableQueue(client, f"{tag}-{i}") for i in range(queues)]
    per = n // queues
    t = time.perf_counter()
    for q in qs:
        for start in range(0, per, BATCH):
            q.enqueue_many({"type": "work", "i": i} for i in range(start, min(per, start + BATCH)))
    enqueue = per * queues / (time.perf_counter() - t)
    shares = [[q.name for q in qs[p::procs]] for p in range(procs)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(procs) as pool:
        results = pool.starmap(_drain, [(url, share, prefetch, threads, per * len(share)) for share in shares])
    first, last = min(r[0] for r in results), max(r[1] for r in results)
    done = sum(r[2] for r in results)
    left = sum(sum(q.counts().values()) for q in qs)
    for q in qs:
        q.clear()
    client.close()
    if done != per * queues or left:
        raise RuntimeError(f"benchmark lost track of jobs: {done} processed of {per * queues}, {left} left")
    return {"enqueue_bulk": enqueue, "process": done / (last - first), "jobs": done}


def _durable_cost(url: str, tag: str, n: int) -> dict[str, Any]:
    from ..connection import connect
    from ..reliable import ReliableQueue

    client = connect(url, decode_responses=False)
    out: dict[str, Any] = {}
    for label, durable in (("plain", False), ("durable", True)):
        q = ReliableQueue(client, f"{tag}-{label}", durable=durable)
        for i in range(20):  # warm up: connections to the node opened before timing
            q.enqueue({"type": "warmup", "i": i})
        lat = []
        t0 = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            q.enqueue({"type": "work", "i": i})
            lat.append(time.perf_counter() - t)
        total = time.perf_counter() - t0
        lat.sort()
        out[label] = {"rate": n / total, "p50_ms": 1000 * statistics.median(lat),
                      "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]}
        q.clear()
    out["ratio"] = out["durable"]["rate"] / out["plain"]["rate"]
    client.close()
    return out


def run_cluster(n: int = 20000, queues: int = 6, procs: int = 2, threads: int = 2, prefetch: int = 50,
                durable_jobs: int = 2000, cluster_url: str | None = None,
                progress: Any = None) -> dict[str, Any]:
    """Measure one server against a cluster and the durable option's cost; JSON-ready results."""
    from ..connection import connect, describe
    from ..lab.localcluster import LocalCluster
    from ..lab.server import RedisServer

    if n < queues or queues < 1 or procs < 1 or durable_jobs < 10:
        raise ValueError("need n >= queues >= 1, procs >= 1 and durable_jobs >= 10")
    say = progress or (lambda label: None)
    tag = f"cbench{os.getpid()}"
    single = RedisServer().start()
    cluster = LocalCluster().start() if cluster_url is None else None
    url = cluster.url if cluster is not None else str(cluster_url)
    try:
        rows = []
        for label, where in (("one server", single.url), ("cluster", url)):
            say(f"{label}: enqueue and process {n} jobs on {queues} queues")
            client = connect(where)
            rows.append({"backend": label, "describe": describe(client),
                         **_throughput(where, tag, n, queues, procs, prefetch, threads)})
            client.close()
        say(f"durable enqueue: {durable_jobs} jobs one by one, plain then durable")
        durable = _durable_cost(url, tag, durable_jobs)
    finally:
        single.stop()
        if cluster is not None:
            cluster.stop()
    base = rows[0]
    for row in rows:
        row["enqueue_ratio"] = row["enqueue_bulk"] / base["enqueue_bulk"]
        row["process_ratio"] = row["process"] / base["process"]
    return {"n": n, "queues": queues, "procs": procs, "threads": threads, "prefetch": prefetch,
            "cores": os.cpu_count(), "rows": rows, "durable": durable, "durable_jobs": durable_jobs}


def cluster_table(result: dict[str, Any]) -> str:
    """The results as two Markdown tables."""
    lines = [f"N = {result['n']:,} jobs on {result['queues']} queues, {result['procs']} worker processes x "
             f"{result['threads']} threads, prefetch {result['prefetch']}, {result['cores']} cores",
             "", "| backend | enqueue bulk /s | process /s |", "| --- | --- | --- |"]
    for row in result["rows"]:
        lines.append(f"| {row['describe']} | {row['enqueue_bulk']:,.0f} ({row['enqueue_ratio']:.2f}x) | "
                     f"{row['process']:,.0f} ({row['process_ratio']:.2f}x) |")
    d = result["durable"]
    lines += ["", f"durable enqueue, {result['durable_jobs']:,} jobs one by one on one cluster queue:", "",
              "| enqueue | jobs/s | p50 ms | p99 ms |", "| --- | --- | --- | --- |",
              f"| plain (LPUSH) | {d['plain']['rate']:,.0f} | {d['plain']['p50_ms']:.2f} | {d['plain']['p99_ms']:.2f} |",
              f"| durable (LPUSH + WAIT 1) | {d['durable']['rate']:,.0f} ({d['ratio']:.2f}x) | "
              f"{d['durable']['p50_ms']:.2f} | {d['durable']['p99_ms']:.2f} |"]
    return "\n".join(lines)
