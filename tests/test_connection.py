"""connect() and describe(): the embedded fake, a real server, never a password on display."""

from __future__ import annotations

import pytest

import labqueue
from labqueue import ConfigError, connect, describe
from labqueue.server import RedisServer
from tests.conftest import require_redis_server


def test_embedded_server_is_shared_by_threads_and_clients(monkeypatch):
    """Without a URL every connect() talks to the same in-process fakeredis."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    a, b = connect(), connect()
    a.set("lq-test-shared", "1")
    assert b.get("lq-test-shared") == "1"
    assert "embedded fakeredis" in describe(a)
    a.delete("lq-test-shared")


def test_redis_url_env_is_used(monkeypatch, redis_server):
    """REDIS_URL selects a real server, and describe() says so."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    client = connect()
    assert client.ping() and describe(client).startswith("real Redis 7")


def test_password_never_shown():
    """A password in the URL works and never appears in describe() or errors."""
    require_redis_server()
    with RedisServer(password="s3cret-pw") as server:
        client = connect(server.url)
        assert client.ping()
        assert "s3cret-pw" not in describe(client)
    with pytest.raises(ConfigError) as err:
        connect("redis://user:s3cret-pw@localhost:notaport/0")
    assert "s3cret-pw" not in str(err.value) and "***" in str(err.value)


@pytest.mark.parametrize("url,message", [
    ("http://localhost:6379", "must start with redis://"),
    ("redis://localhost:port/0", "malformed"),
    ("redis://", "malformed"),
    ("localhost:6379", "must start with redis://"),
])
def test_malformed_urls(url, message):
    """A malformed Redis URL is a clear ConfigError naming the URL."""
    with pytest.raises(ConfigError, match=message):
        connect(url)


def test_import_is_light():
    """import labqueue pulls in neither pandas, matplotlib nor ipywidgets."""
    import subprocess
    import sys

    code = ("import sys, labqueue; bad = [m for m in ('pandas', 'matplotlib', 'ipywidgets') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert labqueue.__all__
