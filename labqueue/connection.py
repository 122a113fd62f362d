"""Connecting to Redis: a real server from a URL, or an embedded fakeredis shared by the process."""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

import redis

from .errors import ConfigError

_FAKE_LOCK = threading.Lock()
_FAKE_SERVER: Any = None


def mask_url(url: str) -> str:
    """The URL with its passwords replaced by ***: the user info's (everything up to the last '@': the
    password may hold '/', '#', '?', '@' or ':'; a user name before the first ':' is kept) and the value
    of every query option whose name holds 'password' (redis-py reads ?password=, ?ssl_password=)."""
    return _QUERY_SECRET.sub(r"\1***", _mask_userinfo(url))


_QUERY_SECRET = re.compile(r"([?&;][^=&;?#\s]*password[^=&;?#\s]*=)[^&;#\s]*", re.IGNORECASE)


def _mask_userinfo(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = head.partition("://")
    if not sep:
        return f"***@{tail}"
    user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
    return f"{scheme}://{user}:***@{tail}" if ":" in userinfo else f"{scheme}://***@{tail}"


def _url_options(scheme: str) -> set[str]:
    """The query options a redis-py URL of `scheme` can carry: those its pool and connection class take."""
    import inspect

    conn = {"rediss": redis.SSLConnection, "unix": redis.UnixDomainSocketConnection}.get(scheme, redis.Connection)
    names: set[str] = set()
    for cls in (*conn.__mro__, redis.ConnectionPool):
        init = cls.__dict__.get("__init__")
        if init is not None:
            names |= {n for n, p in inspect.signature(init).parameters.items()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names - {"self", "connection_class", "host", "port", "path"}  # ?username= and ?password= work


def _check_url(url: Any) -> SplitResult:
    """The parts of a Redis URL; ConfigError naming what is wrong with it (never its password)."""
    if not isinstance(url, str):
        raise ConfigError(f"Redis URL must be a string, got {type(url).__name__}")
    shown = repr(mask_url(url))
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket; urllib's message may quote the URL
        raise ConfigError(f"Redis URL {shown} is malformed: urllib cannot split it") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"Redis URL {shown} must start with redis://, rediss:// or unix://")
    try:
        parts.port
        problem = "" if parts.scheme == "unix" or parts.hostname else "no host"
    except ValueError:  # urllib's message quotes the "port", which may be a piece of the password
        problem = "the port is not a number from 0 to 65535"
    if problem:
        if "@" in url and "@" not in parts.netloc:
            problem += " (a password with '/', '?' or '#' must be percent-encoded: %2F, %3F, %23)"
        raise ConfigError(f"Redis URL {shown} is malformed: {problem}")
    unknown = sorted(set(parse_qs(parts.query, keep_blank_values=True)) - _url_options(parts.scheme))
    if unknown:
        raise ConfigError(f"Redis URL {shown} has unknown option(s) {', '.join(map(repr, unknown))}: "
                          "use redis-py's, e.g. socket_timeout, socket_connect_timeout, max_connections, "
                          "client_name, health_check_interval")
    return parts


def _embedded_server() -> Any:
    global _FAKE_SERVER
    with _FAKE_LOCK:
        if _FAKE_SERVER is None:
            import fakeredis

            _FAKE_SERVER = fakeredis.FakeServer()
        return _FAKE_SERVER


def connect(url: str | None = None, *, decode_responses: bool = True, cluster: bool | None = None) -> Any:
    """A client for `url` (or $REDIS_URL); without either, the embedded fakeredis of this process.

    A URL of any node of a Redis Cluster gives a `redis.cluster.RedisCluster` client: `cluster=None`
    asks the node (INFO cluster, one round trip; a node that does not answer gives a plain client),
    True or False forces either way without asking.
    """
    url = url if url is not None else os.environ.get("REDIS_URL") or None
    if url is None:
        import fakeredis

        return fakeredis.FakeRedis(server=_embedded_server(), decode_responses=decode_responses)
    parts = _check_url(url)
    try:
        parts.port  # raises ValueError on a non-numeric port
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("no host")
        client = None if cluster else redis.Redis.from_url(url, decode_responses=decode_responses)
    except ValueError as exc:
        raise ConfigError(f"Redis URL {mask_url(url)!r} is malformed: {exc}") from None
    if cluster is None:
        cluster = _is_cluster_node(url)
    if not cluster:
        return client
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException

    try:
        return RedisCluster.from_url(url, decode_responses=decode_responses)
    except (RedisClusterException, redis.RedisError) as exc:
        raise ConfigError(mask_url(f"no Redis Cluster at {url}: {exc}")) from None


def refused(exc: BaseException) -> str:
    """For an error meaning the server refused us (wrong password, no permission): one line saying
    so, never the password; '' for any other error (a server away, a bug)."""
    message = str(exc)
    if isinstance(exc, redis.AuthenticationError) or message.startswith(("NOAUTH", "WRONGPASS")):
        return ("Redis refused the connection: authentication failed (wrong or missing password or user "
                f"name; {type(exc).__name__})")
    if isinstance(exc, redis.exceptions.NoPermissionError) or "NOPERM" in message:
        return f"Redis refused a command: this user has no permission for it ({message.splitlines()[0][:200]})"
    return ""


def _is_cluster_node(url: str) -> bool:
    """Whether the server at `url` runs in cluster mode (INFO cluster: cluster_enabled:1)."""
    probe = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        return bool(int(probe.info("cluster").get("cluster_enabled", 0)))
    except redis.ResponseError:  # a Redis-compatible server without INFO cluster
        return False
    except redis.RedisError:  # not reachable now: a plain client, which reconnects when it can
        return False
    finally:
        probe.close()


def is_fake(client: Any) -> bool:
    """True when `client` talks to an in-process fakeredis server."""
    return type(client).__module__.startswith("fakeredis")


def describe(client: Any) -> str:
    """One line naming the backend in use (never its password)."""
    if is_fake(client):
        import fakeredis

        return f"embedded fakeredis {getattr(fakeredis, '__version__', '')} (in-process, no server)".replace("  ", " ")
    from .cluster import is_cluster

    if is_cluster(client):
        return _describe_cluster(client)
    kw = client.connection_pool.connection_kwargs
    where = kw.get("path") or f"{kw.get('host', '?')}:{kw.get('port', '?')}"
    try:
        version = client.info("server").get("redis_version", "?")
    except redis.ResponseError:  # answers, but has no INFO: e.g. fakeredis' TcpFakeServer
        return f"Redis-compatible server at {where} db {kw.get('db', 0)} (no INFO)"
    except redis.RedisError as exc:
        return f"real Redis at {where} db {kw.get('db', 0)} (unreachable: {type(exc).__name__})"
    return f"real Redis {version} at {where} db {kw.get('db', 0)}"


def _describe_cluster(client: Any) -> str:
    """'Redis Cluster 7.0.15, 3 masters + 3 replicas, state ok, via host:port' (never a password)."""
    from .cluster import topology

    where = client.get_default_node().name
    try:
        version = client.info("server", target_nodes=client.get_default_node()).get("redis_version", "?")
        top = topology(client)
    except redis.RedisError as exc:
        return f"Redis Cluster via {where} (unreachable: {type(exc).__name__})"
    return (f"Redis Cluster {version}, {len(top['masters'])} masters + {len(top['replicas'])} replicas, "
            f"state {top['state']}, via {where}")
