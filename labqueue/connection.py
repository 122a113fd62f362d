"""Connecting to Redis: a real server from a URL, or an embedded fakeredis shared by the process."""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import redis

from .errors import ConfigError

_FAKE_LOCK = threading.Lock()
_FAKE_SERVER: Any = None


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    return re.sub(r"(?<=://)([^:@/]*):([^@/]*)@", r"\1:***@", url)


def _embedded_server() -> Any:
    global _FAKE_SERVER
    with _FAKE_LOCK:
        if _FAKE_SERVER is None:
            import fakeredis

            _FAKE_SERVER = fakeredis.FakeServer()
        return _FAKE_SERVER


def connect(url: str | None = None, *, decode_responses: bool = True) -> redis.Redis:
    """A client for `url` (or $REDIS_URL); without either, the embedded fakeredis of this process."""
    url = url if url is not None else os.environ.get("REDIS_URL") or None
    if url is None:
        import fakeredis

        return fakeredis.FakeRedis(server=_embedded_server(), decode_responses=decode_responses)
    if not isinstance(url, str):
        raise ConfigError(f"Redis URL must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"Redis URL {mask_url(url)!r} must start with redis://, rediss:// or unix://")
    try:
        parts.port  # raises ValueError on a non-numeric port
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("no host")
        return redis.Redis.from_url(url, decode_responses=decode_responses)
    except ValueError as exc:
        raise ConfigError(f"Redis URL {mask_url(url)!r} is malformed: {exc}") from None


def is_fake(client: Any) -> bool:
    """True when `client` talks to an in-process fakeredis server."""
    return type(client).__module__.startswith("fakeredis")


def describe(client: Any) -> str:
    """One line naming the backend in use (never its password)."""
    if is_fake(client):
        import fakeredis

        return f"embedded fakeredis {getattr(fakeredis, '__version__', '')} (in-process, no server)".replace("  ", " ")
    kw = client.connection_pool.connection_kwargs
    where = kw.get("path") or f"{kw.get('host', '?')}:{kw.get('port', '?')}"
    try:
        version = client.info("server").get("redis_version", "?")
    except redis.ResponseError:  # answers, but has no INFO: e.g. fakeredis' TcpFakeServer
        return f"Redis-compatible server at {where} db {kw.get('db', 0)} (no INFO)"
    except redis.RedisError as exc:
        return f"real Redis at {where} db {kw.get('db', 0)} (unreachable: {type(exc).__name__})"
    return f"real Redis {version} at {where} db {kw.get('db', 0)}"
