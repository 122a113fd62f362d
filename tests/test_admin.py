"""The admin HTTP API (issue 4): the chapter's endpoints, over real HTTP, token required."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from labqueue.admin import AdminServer
from labqueue.errors import ConfigError
from labqueue.jobqueue import JobQueue

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def api(r: Any) -> Iterator[tuple[AdminServer, JobQueue]]:
    q = JobQueue(r, "email-jobs")
    server = AdminServer(q, token=TOKEN).start()
    yield server, q
    server.close()


def call(server: AdminServer, method: str, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    req = urllib.request.Request(server.url + path, method=method, data=b"" if method == "POST" else None)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def fail_all(q: JobQueue) -> None:
    for job_id, _, token, _ in q.claim(100)[0]:
        q.finish(job_id, token, "failed", "SMTP timeout")


def test_binds_to_localhost_by_default(api: Any) -> None:
    """The admin API listens on 127.0.0.1 unless told otherwise."""
    server, _ = api
    assert server.url.startswith("http://127.0.0.1:")


def test_requests_without_the_right_token_get_401(api: Any) -> None:
    """No token, a wrong token or another scheme: 401, and nothing done to the queue."""
    server, q = api
    for token in (None, "wrong", TOKEN[:-1], ""):
        assert call(server, "POST", "/api/queue/pause", token=token)[0] == 401
    assert call(server, "GET", "/api/queue/stats", token=None)[0] == 401
    assert not q.is_paused()


def test_weak_token_refused() -> None:
    """The server refuses to start with an empty or short token."""
    with pytest.raises(ConfigError, match="token"):
        AdminServer(None, token="")  # type: ignore[arg-type]


def test_stats_pause_resume_retry_failed(api: Any) -> None:
    """stats, pause, resume and retry-failed act on Redis and answer JSON."""
    server, q = api
    q.add_bulk([("send-email", {"i": i}) for i in range(3)])
    fail_all(q)
    q.add("send-email", {"i": 9})
    status, body = call(server, "GET", "/api/queue/stats")
    assert status == 200 and body["counts"]["failed"] == 3 and body["counts"]["waiting"] == 1
    assert body["metrics"]["total_enqueued"] == 4
    assert call(server, "POST", "/api/queue/pause") == (200, {"success": True, "message": "Queue paused"})
    assert q.is_paused() and call(server, "GET", "/api/queue/stats")[1]["counts"]["paused"] == 1
    assert call(server, "POST", "/api/queue/resume")[1]["success"] and not q.is_paused()
    status, body = call(server, "POST", "/api/queue/retry-failed")
    assert status == 200 and body["retried"] == 3
    assert q.get_job_counts()["waiting"] == 4 and q.get_job_counts()["failed"] == 0


def test_clean_endpoint(api: Any) -> None:
    """POST /api/queue/clean removes old failed jobs; a bad state is a 400 naming it."""
    server, q = api
    q.add_bulk([("j", {"i": i}) for i in range(2)])
    fail_all(q)
    assert call(server, "POST", "/api/queue/clean?state=failed&grace=0")[1]["removed"] == 2
    status, body = call(server, "POST", "/api/queue/clean?state=active")
    assert status == 400 and "active" in body["error"]


def test_unknown_path_and_wrong_method(api: Any) -> None:
    """Unknown endpoints are 404, wrong methods 405; the queue is untouched."""
    server, q = api
    assert call(server, "GET", "/api/queue/nope")[0] == 404
    assert call(server, "GET", "/api/queue/pause")[0] == 405
    assert not q.is_paused()
