"""The chapter's admin API (its Express endpoints) as JSON over HTTP, with the standard library.

    GET  /api/queue/stats          -> the job counts per state, and the metrics
    POST /api/queue/pause          -> {"success": true, "message": "Queue paused"}
    POST /api/queue/resume         -> {"success": true, "message": "Queue resumed"}
    POST /api/queue/retry-failed   -> {"success": true, "message": "...", "retried": n}
    POST /api/queue/clean?state=completed&grace=3600 -> {"success": true, "removed": n}

The chapter's API has no authentication at all: anyone who reaches the port can pause production.
Here every request must carry `Authorization: Bearer <token>` (compared in constant time with
hmac.compare_digest), else 401; the server listens on 127.0.0.1 unless told otherwise. Each
endpoint is one JobQueue operation (one round trip).
"""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import _running
from .errors import ConfigError, LabqueueError
from .jobqueue import JobQueue
from .metrics import QueueMetrics


class AdminServer:
    """`AdminServer(queue, token="...").start()`; `.url`; `.close()` stops it and joins its thread."""

    def __init__(self, queue: JobQueue, token: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not isinstance(token, str) or len(token) < 16:
            raise ConfigError("the admin API needs a token of at least 16 characters "
                              "(e.g. secrets.token_urlsafe(24)): it can pause production")
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
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        q = self.queue
        routes = {"/api/queue/stats": "GET", "/api/queue/pause": "POST", "/api/queue/resume": "POST",
                  "/api/queue/retry-failed": "POST", "/api/queue/clean": "POST"}
        if parts.path not in routes:
            return 404, {"success": False, "error": f"no such endpoint {parts.path!r}",
                         "endpoints": sorted(routes)}
        if routes[parts.path] != method:
            return 405, {"success": False, "error": f"{parts.path} takes {routes[parts.path]}, not {method}"}
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
            removed = q.clean(float(query.get("grace", 0)), query.get("state", "completed"),
                              int(query.get("limit", 0)))
        except (ValueError, LabqueueError) as exc:
            return 400, {"success": False, "error": str(exc)}
        return 200, {"success": True, "message": f"{len(removed)} jobs removed", "removed": len(removed)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                if not server.authorised(self.headers.get("Authorization")):
                    status, body = 401, {"success": False, "error": "missing or wrong token "
                                         "(send 'Authorization: Bearer <token>')"}
                else:
                    try:
                        status, body = server.dispatch(method, self.path)
                    except Exception as exc:  # a Redis error is a 500 with its reason, not a dead thread
                        status, body = 500, {"success": False, "error": f"{type(exc).__name__}: {exc}"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="labqueue"')
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(min(length, 65536))
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet in notebooks and tests

        return Handler
