"""Monitoring (the chapter's "Monitoring et Observability"): QueueMetrics and a Prometheus exporter.

Redis structure: the hash `lq:{name}:jq:metrics` with the chapter's counters (total_enqueued,
total_dequeued, total_succeeded, total_failed, total_duration_ms) plus the duration histogram
(`hist:<bucket>:<job name>` counts and `hist_sum:<job name>`). A JobQueue's scripts update it in the
same atomic step as the transition they count (jq_add, jq_claim, jq_finish, jq_stalled), so it is
exact across every worker process. The chapter's `current_size` counter (+1 on enqueue, -1 on
dequeue) drifts as soon as one update is lost or a job is retried; here the size is read from the
queue itself (LLEN / ZCARD) in the same MULTI as the counters.

Prometheus: `QueueCollector` turns that hash into the chapter's metrics at each scrape (counters
queue_enqueued_total ... queue_failed_total, gauge queue_size, histogram
queue_processing_duration_seconds); `MetricsExporter` serves them from its own CollectorRegistry
on 127.0.0.1 (prometheus_client's `start_http_server`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from . import _running
from .base import text
from .jobdelivery import BUCKETS
from .jobspec import JobQueueKeys

COUNTERS = ("total_enqueued", "total_dequeued", "total_succeeded", "total_failed")


class QueueMetrics:
    """`QueueMetrics(r, "email-jobs")`: the chapter's class, kept in Redis, sizes read from the queue."""

    def __init__(self, redis_client: Any, queue_name: str = "jobs") -> None:
        self.redis = redis_client
        self.queue_name = queue_name
        self.keys = JobQueueKeys(queue_name)
        self.metrics_key = self.keys.metrics

    # The chapter's record_* methods, for code that does not go through a JobQueue (whose scripts
    # record everything themselves). None of them touches a size: sizes are never counted.
    def record_enqueue(self, n: int = 1) -> None:
        """Count jobs enqueued (HINCRBY)."""
        self.redis.hincrby(self.metrics_key, "total_enqueued", n)

    def record_dequeue(self, n: int = 1) -> None:
        """Count jobs handed to a worker (HINCRBY)."""
        self.redis.hincrby(self.metrics_key, "total_dequeued", n)

    def record_success(self, duration_ms: float) -> None:
        """Count a success and its duration (MULTI: HINCRBY, HINCRBYFLOAT)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(self.metrics_key, "total_succeeded", 1)
        pipe.hincrbyfloat(self.metrics_key, "total_duration_ms", duration_ms)
        pipe.execute()

    def record_failure(self) -> None:
        """Count a failed attempt (HINCRBY)."""
        self.redis.hincrby(self.metrics_key, "total_failed", 1)

    def read(self) -> tuple[dict[str, str], dict[str, int]]:
        """The raw metrics hash and the sizes per state, in one round trip (MULTI)."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.hgetall(self.metrics_key)
        pipe.llen(k.wait)
        for zset in (k.prio, k.active, k.delayed, k.completed, k.failed):
            pipe.zcard(zset)
        raw, wait, prio, active, delayed, completed, failed = pipe.execute()
        sizes = {"waiting": int(wait) + int(prio), "active": int(active), "delayed": int(delayed),
                 "completed": int(completed), "failed": int(failed)}
        return {text(f): text(v) for f, v in raw.items()}, sizes

    def get_metrics(self) -> dict[str, Any]:
        """The chapter's metrics plus success_rate (%) and avg_duration_ms (HGETALL + LLEN/ZCARD)."""
        raw, sizes = self.read()
        m: dict[str, Any] = {name: int(raw.get(name, 0)) for name in COUNTERS}
        m["total_duration_ms"] = float(raw.get("total_duration_ms", 0))
        m["current_size"] = sizes["waiting"]
        m["active"] = sizes["active"]
        m["delayed"] = sizes["delayed"]
        done = m["total_succeeded"] + m["total_failed"]
        m["success_rate"] = 100.0 * m["total_succeeded"] / done if done else 0.0
        m["avg_duration_ms"] = m["total_duration_ms"] / m["total_succeeded"] if m["total_succeeded"] else 0.0
        return m

    def display_metrics(self) -> str:
        """The chapter's text report (returned, and printed)."""
        m = self.get_metrics()
        lines = ["=" * 60, f"QUEUE METRICS ({self.queue_name})", "=" * 60,
                 f"Current size:     {m['current_size']}", f"Total enqueued:   {m['total_enqueued']}",
                 f"Total dequeued:   {m['total_dequeued']}", f"Total succeeded:  {m['total_succeeded']}",
                 f"Total failed:     {m['total_failed']}", f"Success rate:     {m['success_rate']:.2f}%",
                 f"Avg duration:     {m['avg_duration_ms']:.2f}ms", "=" * 60]
        report = "\n".join(lines)
        print(report)
        return report


class QueueCollector(Collector):
    """A prometheus_client collector reading the chapter's metrics of some queues from Redis."""

    def __init__(self, redis_client: Any, queue_names: Iterable[str]) -> None:
        self.sources = [QueueMetrics(redis_client, name) for name in queue_names]

    def collect(self) -> Iterator[Any]:
        """One MULTI per queue per scrape (QueueMetrics.read)."""
        counters = {name: CounterMetricFamily(f"queue_{name[6:]}", f"Total jobs {name[6:]}", labels=["queue_name"])
                    for name in COUNTERS}
        size = GaugeMetricFamily("queue_size", "Current queue size (waiting jobs)", labels=["queue_name"])
        states = GaugeMetricFamily("queue_jobs", "Jobs per state", labels=["queue_name", "state"])
        hist = HistogramMetricFamily("queue_processing_duration_seconds", "Job processing duration",
                                     labels=["queue_name", "job_type"])
        for source in self.sources:
            raw, sizes = source.read()
            q = source.queue_name
            for name, family in counters.items():
                family.add_metric([q], float(raw.get(name, 0)))
            size.add_metric([q], sizes["waiting"])
            for state, n in sizes.items():
                states.add_metric([q, state], n)
            for job_type in sorted(f[len("hist_sum:"):] for f in raw if f.startswith("hist_sum:")):
                cumulative, buckets = 0, []
                for i, bound in enumerate(BUCKETS):
                    cumulative += int(raw.get(f"hist:{i}:{job_type}", 0))
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
                hist.add_metric([q, job_type], buckets, float(raw[f"hist_sum:{job_type}"]))
        yield from (*counters.values(), size, states, hist)


class MetricsExporter:
    """`MetricsExporter(r, ["email-jobs"]).serve()`: a /metrics endpoint for Prometheus, on its own registry."""

    def __init__(self, redis_client: Any, queue_names: Iterable[str]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(QueueCollector(redis_client, list(queue_names)))
        self._server: Any = None
        self._thread: Any = None

    def text(self) -> str:
        """The exposition text Prometheus would scrape (generate_latest)."""
        return generate_latest(self.registry).decode()

    def serve(self, port: int = 0, addr: str = "127.0.0.1") -> str:
        """Serve /metrics (port 0 = a free one); returns its URL. 127.0.0.1 unless told otherwise."""
        self._server, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        _running.started(self, self.close)
        return self.url

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/metrics"

    def close(self) -> None:
        """Stop the HTTP server and join its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None
