"""QueueMetrics and the Prometheus exporter (issue 4), on both backends."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from labqueue.jobqueue import JobQueue
from labqueue.metrics import MetricsExporter, QueueMetrics


def run_flaky(r: Any, name: str = "jobs") -> JobQueue:
    """10 good jobs, 4 that fail twice (attempts=2), 3 left waiting: all finished synchronously."""
    q = JobQueue(r, name)
    q.add_bulk([("good", {"i": i}) for i in range(10)] + [("bad", {"i": i}, {"attempts": 2}) for i in range(4)])
    while True:
        jobs = q.claim(20)[0]
        if not jobs:
            break
        for job_id, raw, token, _ in jobs:
            bad = '"bad"' in raw
            q.finish(job_id, token, "failed" if bad else "completed", "boom" if bad else "1",
                     duration=0.2 if bad else 0.003, name="bad" if bad else "good")
    q.add_bulk([("good", {"later": i}) for i in range(3)])
    return q


def test_queue_metrics_match_the_run(r: Any) -> None:
    """The chapter's counters, success rate and average duration match what the queue did."""
    run_flaky(r)
    m = QueueMetrics(r, "jobs").get_metrics()
    assert (m["total_enqueued"], m["total_dequeued"], m["total_succeeded"], m["total_failed"]) == (17, 18, 10, 8)
    assert m["current_size"] == 3
    assert abs(m["success_rate"] - 100 * 10 / 18) < 1e-9
    assert abs(m["avg_duration_ms"] - 3.0) < 1e-6
    assert "Success rate:     55.56%" in QueueMetrics(r, "jobs").display_metrics()


def test_size_is_read_not_counted(r: Any) -> None:
    """current_size is the queue's real size even when a counter update was lost (no drift)."""
    q = JobQueue(r, "jobs")
    q.add_bulk([("j", {"i": i}) for i in range(5)])
    r.hincrby(q.keys.metrics, "total_enqueued", -2)  # a lost update, as a crash would cause
    q.claim(1)
    assert QueueMetrics(r, "jobs").get_metrics()["current_size"] == 4 == r.llen(q.keys.wait)


def test_chapter_record_methods(r: Any) -> None:
    """record_enqueue / dequeue / success / failure update the same hash as the queue's scripts."""
    m = QueueMetrics(r, "manual")
    m.record_enqueue()
    m.record_enqueue()
    m.record_dequeue()
    m.record_success(12.5)
    m.record_failure()
    got = m.get_metrics()
    assert (got["total_enqueued"], got["total_dequeued"], got["total_succeeded"], got["total_failed"]) == (2, 1, 1, 1)
    assert got["avg_duration_ms"] == 12.5 and got["success_rate"] == 50.0 and got["current_size"] == 0


def scrape(url: str) -> dict[str, Any]:
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    return {s.name + str(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_prometheus_endpoint_scraped_over_http(r: Any) -> None:
    """The exporter serves the chapter's counters, gauge and histogram on 127.0.0.1, read from Redis."""
    run_flaky(r)
    exporter = MetricsExporter(r, ["jobs"])
    url = exporter.serve()
    try:
        assert url.startswith("http://127.0.0.1:")
        s = scrape(url)
    finally:
        exporter.close()
    q = "[('queue_name', 'jobs')]"
    assert s["queue_enqueued_total" + q] == 17 and s["queue_dequeued_total" + q] == 18
    assert s["queue_succeeded_total" + q] == 10 and s["queue_failed_total" + q] == 8
    assert s["queue_size" + q] == 3
    good = "[('job_type', 'good'), ('queue_name', 'jobs')]"
    bad = "[('job_type', 'bad'), ('queue_name', 'jobs')]"
    assert s["queue_processing_duration_seconds_count" + good] == 10
    assert s["queue_processing_duration_seconds_count" + bad] == 8
    assert abs(s["queue_processing_duration_seconds_sum" + bad] - 1.6) < 1e-9
    le = "[('job_type', 'bad'), ('le', '{}'), ('queue_name', 'jobs')]"
    assert s["queue_processing_duration_seconds_bucket" + le.format("0.1")] == 0
    assert s["queue_processing_duration_seconds_bucket" + le.format("0.25")] == 8
    assert s["queue_jobs[('queue_name', 'jobs'), ('state', 'failed')]"] == 4


def test_exporters_have_their_own_registries(r: Any) -> None:
    """Two exporters of different queues coexist in one process; each shows only its queues."""
    run_flaky(r, "a")
    JobQueue(r, "b").add("j", {})
    ea, eb = MetricsExporter(r, ["a"]), MetricsExporter(r, ["b"])
    assert 'queue_enqueued_total{queue_name="a"} 17.0' in ea.text()
    assert 'queue_enqueued_total{queue_name="b"} 1.0' in eb.text() and 'queue_name="a"' not in eb.text()


def test_metrics_follow_a_live_run(r: Any) -> None:
    """Metrics written by threaded workers add up once the run is over."""
    q = JobQueue(r, "live", lease_seconds=2)
    q.add_bulk([("j", {"i": i}) for i in range(30)])
    q.process("j", lambda job: 1 if job.data["i"] % 5 else 1 / 0, concurrency=3, poll_seconds=0.05)
    deadline = time.monotonic() + 20
    while q.get_job_counts()["completed"] + q.get_job_counts()["failed"] < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    q.close()
    m = QueueMetrics(r, "live").get_metrics()
    assert m["total_succeeded"] == 24 and m["total_failed"] == 6 and m["total_dequeued"] == 30
