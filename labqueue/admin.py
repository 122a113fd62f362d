"""The chapter's admin API (its Express endpoints) as JSON over HTTP, with the standard library.

    GET  /api/queue/stats          -> the job counts per state, and the metrics
    POST /api/queue/pause          -> {"success": true, "message": "Queue paused"}
    POST /api/queue/resume         -> {"success": true, "message": "Queue resumed"}
    POST /api/queue/retry-failed   -> {"success": true, "message": "...", "retried": n}
    POST /api/queue/clean?state=completed&grace=3600 -> {"success": true, "removed": n}

The chapter's API has no authentication at all: anyone who reaches the port can pause production.
Here every request must carry `Authorization: Bearer <token>` (compared in constant time with
hmac.compare_digest), else 401, checked before anything else is read; the server listens on
127.0.0.1 unless told otherwise. A request body is read only after the token, and only up to
MAX_BODY bytes (a bad Content-Length, or two that differ, is a 400; a larger one a 413, however many
digits it has; a body framed by Transfer-Encoding, chunked, is a 411: it would go unread, or be read
by a Content-Length a proxy ignores); every socket read times out after `timeout` s, so a silent or slow client cannot hold a thread. Every query parameter is checked:
an unknown, non-numeric, negative, NaN, infinite or huge one is a 400 naming it. Each endpoint is one
JobQueue operation (one round trip). Redis away is a 503 (try again); every answer is JSON.
"""

from __future__ import annotations

import hmac
import json
from http import HTTPStatus
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import _running
from .checks import number
from .cluster import LOST_NODE
from .errors import ConfigError, LabqueueError
from .jobqueue import JobQueue
from .metrics import QueueMetrics

MAX_BODY = 64 * 1024  # bytes: the endpoints take no body; a client may still send a small one
TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,}=*")  # RFC 6750 b64token, as secrets.token_urlsafe makes
PARAMETERS = {"/api/queue/clean": ("state", "grace", "limit")}  # the other endpoints take none


class BadRequest(Exception):
    """A request the API refuses: its HTTP status and the message naming what was wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminServer:
    """`AdminServer(queue, token="...").start()`; `.url`; `.close()` stops it and joins its thread."""

    def __init__(self, queue: JobQueue, token: str, *, host: str = "127.0.0.1", port: int = 0,
                 timeout: float = 10.0) -> None:
        if not isinstance(token, str) or not TOKEN.fullmatch(token):
            raise ConfigError("the admin API needs a token of at least 16 characters A-Z a-z 0-9 - . _ ~ + / "
                              "(no spaces; e.g. secrets.token_urlsafe(24)): it can pause production")
        self.timeout = number("timeout", timeout, above=True)
        self.queue = queue
        self.metrics = QueueMetrics(queue.redis, queue.name)
        self._token = token.encode()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> AdminServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="labqueue-admin", daemon=True)
        self._thread.start()
        _running.started(self, self.close)
        return self

    def close(self) -> None:
        """Stop serving, close the socket, join the thread."""
        if self._thread is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        self._thread = None

    def authorised(self, header: str | None) -> bool:
        """True when the Authorization header carries the token (constant-time comparison)."""
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self._token)

    def dispatch(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        """Run one API call: (HTTP status, JSON body)."""
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        q = self.queue
        routes = {"/api/queue/stats": "GET", "/api/queue/pause": "POST", "/api/queue/resume": "POST",
                  "/api/queue/retry-failed": "POST", "/api/queue/clean": "POST"}
        if parts.path not in routes:
            return 404, {"success": False, "error": f"no such endpoint {parts.path!r}",
                         "endpoints": sorted(routes)}
        if routes[parts.path] != method:
            return 405, {"success": False, "error": f"{parts.path} takes {routes[parts.path]}, not {method}"}
        allowed = PARAMETERS.get(parts.path, ())
        unknown = sorted(set(query) - set(allowed))
        if unknown:
            takes = f"takes only {', '.join(allowed)}" if allowed else "takes no parameter"
            return 400, {"success": False, "error": f"unknown parameter(s) {', '.join(map(repr, unknown))}: "
                                                    f"{parts.path} {takes}"}
        if parts.path == "/api/queue/stats":
            return 200, {"queue": q.name, "counts": q.get_job_counts(), "paused": q.is_paused(),
                         "metrics": self.metrics.get_metrics()}
        if parts.path == "/api/queue/pause":
            q.pause()
            return 200, {"success": True, "message": "Queue paused"}
        if parts.path == "/api/queue/resume":
            q.resume()
            return 200, {"success": True, "message": "Queue resumed"}
        if parts.path == "/api/queue/retry-failed":
            n = q.retry_failed()
            return 200, {"success": True, "message": f"{n} failed jobs retried", "retried": n}
        try:
            grace = _parse("grace", query.get("grace", "0"), float, "a number of seconds >= 0")
            limit = _parse("limit", query.get("limit", "0"), int, "an integer >= 0 (0 = no limit)")
            removed = q.clean(grace, query.get("state", "completed"), limit)
        except (BadRequest, LabqueueError) as exc:
            return 400, {"success": False, "error": str(exc)}
        return 200, {"success": True, "message": f"{len(removed)} jobs removed", "removed": len(removed)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = server.timeout  # every socket read: a silent client is dropped, never waited for

            def _answer(self, method: str) -> None:
                try:
                    if not server.authorised(self.headers.get("Authorization")):  # first, before any body
                        self.close_connection = True
                        raise BadRequest(401, "missing or wrong token (send 'Authorization: Bearer <token>')")
                    if self.headers.get_all("Transfer-Encoding"):  # bodies are framed by Content-Length only
                        self.close_connection = True
                        raise BadRequest(411, "Transfer-Encoding (chunked) bodies are not accepted: send the "
                                              "body with a Content-Length, or none")
                    if method == "POST":
                        self._discard_body()
                    status, body = server.dispatch(method, self.path)
                except BadRequest as exc:
                    status, body = exc.status, {"success": False, "error": str(exc)}
                except LOST_NODE as exc:  # Redis away (or a failover under way): the API is, for now, too
                    status, body = 503, {"success": False, "error": f"Redis is unavailable ({type(exc).__name__}: "
                                                                    f"{exc}); nothing was done, try again"}
                except Exception as exc:  # another Redis error: a 500 with its reason, not a dead thread
                    status, body = 500, {"success": False, "error": f"{type(exc).__name__}: {exc}"}
                self._send(status, body)

            def _discard_body(self) -> None:
                """Read (and drop) a body of at most MAX_BODY bytes; BadRequest for a bad length or a stall."""
                values = self.headers.get_all("Content-Length") or ["0"]
                raw = values[0].strip()
                if len(set(v.strip() for v in values)) > 1:  # which one frames the body? (RFC 9112 6.3)
                    self.close_connection = True
                    raise BadRequest(400, f"{len(values)} different Content-Length headers: send one")
                if not (raw.isascii() and raw.isdigit()):
                    self.close_connection = True
                    raise BadRequest(400, f"Content-Length must be a whole number of bytes, got {raw[:40]!r}")
                digits = raw.lstrip("0") or "0"
                if len(digits) > len(str(MAX_BODY)):  # never int() it: 4301+ digits raise ValueError
                    self.close_connection = True
                    raise BadRequest(413, f"Content-Length of {len(digits)} digits is over the body limit "
                                          f"of {MAX_BODY} bytes")
                length = int(digits)
                if length > MAX_BODY:
                    self.close_connection = True
                    raise BadRequest(413, f"Content-Length {length}: the request body is over the limit of "
                                          f"{MAX_BODY} bytes")
                try:
                    got = len(self.rfile.read(length)) if length else 0
                except TimeoutError:
                    got = -1
                if got != length:
                    self.close_connection = True
                    raise BadRequest(408, f"request body not received within {server.timeout:g} s")

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="labqueue"')
                if self.close_connection:
                    self.send_header("Connection", "close")
                try:
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client left: no answer to give
                    self.close_connection = True

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """http.server's own refusals (a method the API does not take, a malformed request line,
                an unknown HTTP version, a request line or headers too long), in JSON as every answer."""
                self.close_connection = True
                self.request_version = "HTTP/1.0"  # a request line that did not parse: answer with a status line
                try:
                    error = message or HTTPStatus(code).phrase
                except ValueError:
                    error = f"HTTP error {code}"
                if code == HTTPStatus.NOT_IMPLEMENTED:
                    error += ": the admin API takes GET and POST"
                self._send(code, {"success": False, "error": error})

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet in notebooks and tests

        return Handler


def _parse(name: str, value: str, kind: type, expected: str) -> Any:
    """Query parameter `name` as `kind`; BadRequest naming it when it is not one."""
    try:
        return kind(value)
    except (ValueError, OverflowError):
        raise BadRequest(400, f"parameter {name!r} must be {expected}, got {value[:40]!r}") from None
