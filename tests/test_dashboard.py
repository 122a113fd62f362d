"""The ipywidgets dashboard of a JobQueue (issue 4): live counts, chart, failed jobs, buttons on Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from labqueue.jobqueue import JobQueue  # noqa: E402
from labqueue.lab.dashboard import Dashboard, DemoTraffic  # noqa: E402


def finish_all(q: JobQueue, fail: bool) -> None:
    for job_id, _, token, _ in q.claim(100)[0]:
        q.finish(job_id, token, "failed" if fail else "completed", "<script>alert(1)</script>" if fail else "1")


def test_counts_and_failed_jobs_shown(r: Any) -> None:
    """The badges show the counts from Redis; failed jobs are listed with their (escaped) errors."""
    q = JobQueue(r, "dash")
    q.add_bulk([("j", {"i": i}) for i in range(3)])
    finish_all(q, fail=True)
    q.add_bulk([("j", {"i": i}) for i in range(2)])
    d = Dashboard(q)
    assert d.refresh()["failed"] == 3
    assert "<b style='font-size:1.4em'>2</b>" in d.count_labels["waiting"].value
    assert "&lt;script&gt;" in d.failed_table.value and "<script>" not in d.failed_table.value
    assert "lq-panel" in d.box._dom_classes
    assert all("lq-live" in w._dom_classes for w in (*d.count_labels.values(), d.chart, d.failed_table, d.status))


def test_buttons_act_on_redis(r: Any) -> None:
    """pause, resume, retry failed and clean buttons change the queue in Redis."""
    q = JobQueue(r, "dash")
    q.add_bulk([("j", {"i": i}) for i in range(4)])
    finish_all(q, fail=True)
    q.add("j", {"ok": True})
    finish_all(q, fail=False)
    d = Dashboard(q)
    d.buttons["pause"].click()
    assert q.is_paused() and "paused" in d.status.value
    d.buttons["resume"].click()
    assert not q.is_paused()
    d.buttons["retry failed"].click()
    assert q.get_job_counts()["failed"] == 0 and q.get_job_counts()["waiting"] == 4
    assert "4 failed jobs" in d.status.value
    d.buttons["clean"].click()
    assert q.get_job_counts()["completed"] == 0 and r.hlen(q.keys.jobs) == 4


def test_live_refresh_and_chart(r: Any) -> None:
    """Running, the dashboard follows a demo workload: counts, throughput and a PNG chart update."""
    q = JobQueue(r, "dash")
    d = Dashboard(q, refresh=0.1).start()
    traffic = DemoTraffic(q, rate=100, seconds=0.6, flaky=0.2, work_ms=2, concurrency=2).start()
    traffic.join()
    q.close()
    deadline = time.monotonic() + 5
    while d.counts.get("completed", 0) + d.counts.get("failed", 0) < traffic.added and time.monotonic() < deadline:
        time.sleep(0.05)
    d.stop()
    c = q.get_job_counts()
    assert traffic.added > 10 and c["completed"] + c["failed"] == traffic.added
    assert d.counts == c and d.chart.value[:4] == b"\x89PNG" and "throughput" in d.rates.value
    assert d._thread is None and d.error is None
