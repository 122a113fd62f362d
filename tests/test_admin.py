"""The admin HTTP API (issue 4): the chapter's endpoints, over real HTTP, token required."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from labqueue.admin import MAX_BODY, AdminServer
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


def raw_request(server: AdminServer, request: bytes, wait: float = 5.0) -> bytes:
    """Send raw bytes, keep the socket open, return what the server answers within `wait` s."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize("length", ["-1", "-99999", str(10**12), "abc"])
def test_unauthenticated_post_is_refused_before_reading_its_body(api: Any, length: str) -> None:
    """A POST without the token gets 401 at once, whatever its Content-Length (negative, huge, junk): no body read."""
    server, q = api
    answer = raw_request(server, f"POST /api/queue/pause HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                         .encode())
    assert answer.startswith(b"HTTP/1.0 401") or answer.startswith(b"HTTP/1.1 401"), answer
    assert not q.is_paused()


@pytest.mark.parametrize("length, status", [
    ("-1", 400), ("abc", 400), ("+5", 400), ("1_000", 400), ("5.0", 400), ("\u0663", 400), ("0x10", 400),
    (str(10**12), 413), (str(MAX_BODY + 1), 413),
    ("9" * 4301, 413), ("9" * 60_000, 413),  # past int()'s 4300-digit limit: was a 500 (ValueError)
    ("0" * 5000 + "9" * 5000, 413),
])
def test_authenticated_post_with_a_bad_or_huge_body_is_refused_at_once(api: Any, length: str, status: int) -> None:
    """With the token, a negative or junk Content-Length is 400 and a huge one 413 (however many digits),
    naming the header, at once: no body waited for, never a 500."""
    server, q = api
    started = time.monotonic()
    got, body = raw_call(server, f"POST /api/queue/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                         f"Content-Length: {length}\r\n\r\n".encode("utf-8"))
    assert (got, body["success"]) == (status, False), body
    assert "Content-Length" in body["error"], body
    assert time.monotonic() - started < 5
    assert not q.is_paused()


def test_two_different_content_lengths_are_refused(api: Any) -> None:
    """Two Content-Length headers that disagree (a request-smuggling pattern) are a 400 naming the header."""
    server, q = api
    status, body = raw_call(server, f"POST /api/queue/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                            "Content-Length: 0\r\nContent-Length: 99999\r\n\r\n".encode())
    assert status == 400 and "Content-Length" in body["error"], body
    assert not q.is_paused()
    status, body = raw_call(server, f"POST /api/queue/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                            "Content-Length: 0\r\nContent-Length: 0\r\n\r\n".encode())  # the same twice: fine
    assert status == 200 and q.is_paused(), body


def raw_call(server: AdminServer, request: bytes) -> tuple[int, Any]:
    """Send raw bytes, read the whole answer (the server closes the connection): (status, JSON body)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=8) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize("request_bytes, status, word", [
    (f"DELETE /api/queue/stats HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode(), 501, "DELETE"),
    (b"PUT /api/queue/pause HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 501, "PUT"),
    (b"GET /api/queue/stats HTTP/7.3\r\n\r\n", 505, "version"),
    (b"GET /api/queue/stats nonsense HTTP/1.1\r\n\r\n", 400, "request"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "URI"),
    (b"GET /api/queue/stats HTTP/1.1\r\n" + b"X-Junk: 1\r\n" * 200 + b"\r\n", 431, "headers"),
])
def test_what_http_server_refuses_itself_is_answered_in_json(api: Any, request_bytes: bytes, status: int,
                                                            word: str) -> None:
    """A method the API does not take, a malformed request line, an unknown HTTP version, a request line
    or headers too long: http.server refuses them before the handler runs, and answered with an HTML page.
    The API answers JSON only: {"success": false, "error": ...} naming the problem, as application/json."""
    server, q = api
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=8) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    assert int(head.split(b" ")[1]) == status, head
    assert b"content-type: application/json" in head.lower(), head
    reply = json.loads(body)
    assert reply["success"] is False and word.lower() in reply["error"].lower(), reply
    assert not q.is_paused()


def test_redis_away_is_a_503_saying_so_not_a_500() -> None:
    """The queue's Redis refusing connections: every endpoint answered 500 with redis-py's ConnectionError,
    the status of a bug in the API, which clients and load balancers do not retry. It is a 503 (Service
    Unavailable: try again) saying Redis is unavailable and that nothing was done."""
    import redis

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    server = AdminServer(JobQueue(client, "gone"), token=TOKEN).start()
    try:
        for method, path in (("GET", "/api/queue/stats"), ("POST", "/api/queue/pause"),
                             ("POST", "/api/queue/retry-failed")):
            status, body = call(server, method, path)
            assert status == 503 and body["success"] is False, body
            assert "Redis is unavailable" in body["error"] and "nothing was done" in body["error"], body
    finally:
        server.close()


def test_a_silent_client_is_dropped_after_the_socket_timeout(r: Any) -> None:
    """A client that connects and sends nothing (or half a request) is disconnected after `timeout` s."""
    server = AdminServer(JobQueue(r, "email-jobs"), token=TOKEN, timeout=0.5).start()
    try:
        start = time.monotonic()
        assert raw_request(server, b"POST /api/queue/pause HTTP/1.1\r\nHost: x\r\n", wait=10) == b""
        assert time.monotonic() - start < 5
        answer = raw_request(server, f"POST /api/queue/pause HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                             "Content-Length: 10\r\n\r\nabc".encode(), wait=10)  # 3 of 10 body bytes
        assert answer.split(b"\r\n", 1)[0].endswith(b"408 Request Timeout") or answer == b"", answer
        assert time.monotonic() - start < 10
    finally:
        server.close()


@pytest.mark.parametrize("path, word", [
    ("/api/queue/clean?limit=" + "9" * 30, "limit"),
    ("/api/queue/clean?limit=-1", "limit"),
    ("/api/queue/clean?limit=ten", "limit"),
    ("/api/queue/clean?grace=nan", "grace"),
    ("/api/queue/clean?grace=inf", "grace"),
    ("/api/queue/clean?grace=1e400", "grace"),
    ("/api/queue/clean?state=failed&colour=blue", "colour"),
    ("/api/queue/clean?state=active", "state"),
    ("/api/queue/pause?now=1", "now"),
    ("/api/queue/stats?verbose=1", "verbose"),
])
def test_every_parameter_is_validated_with_a_400_naming_it(api: Any, path: str, word: str) -> None:
    """A huge, negative, non-numeric, NaN or infinite parameter, or an unknown one, is a 400 naming it (never 500)."""
    server, q = api
    status, body = call(server, "GET" if "stats" in path else "POST", path)
    assert status == 400 and word in body["error"], body
    assert not q.is_paused()


@pytest.mark.parametrize("token", [" " * 24, "\t" * 20, "valid-part-but has spaces", "tøken-with-non-ascii-chars",
                                   "short"])
def test_a_token_that_can_never_match_is_refused_at_start(token: str) -> None:
    """A token of spaces, with whitespace or non-ASCII characters, or shorter than 16 is refused at start."""
    with pytest.raises(ConfigError, match="token"):
        AdminServer(None, token=token)  # type: ignore[arg-type]


@pytest.mark.parametrize("framing", [
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",  # both: which one frames the body? (RFC 9112 6.3)
    "Transfer-Encoding: gzip, chunked\r\n",
])
def test_a_body_framed_by_transfer_encoding_is_refused_and_nothing_is_done(api: Any, framing: str) -> None:
    """The API reads bodies by Content-Length only: a request whose body is framed by Transfer-Encoding
    (chunked) is a 411 naming the header, on a closed connection, and the queue is untouched. It was
    run as if it had no body (the queue paused) while its chunks were left unread on the connection."""
    server, q = api
    status, body = raw_call(server, f"POST /api/queue/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                            f"{framing}\r\n5\r\nhello\r\n0\r\n\r\n".encode())
    assert status == 411 and "Transfer-Encoding" in body["error"], body
    assert not q.is_paused()
