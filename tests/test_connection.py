"""connect() and describe(): the embedded fake, a real server, never a password on display."""

from __future__ import annotations

import pytest

import labqueue
from labqueue import ConfigError, connect, describe
from labqueue.lab.server import RedisServer
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


SECRET = "s3cretZq"  # every test password starts with it: it must never be shown, nor any part of it
PASSWORDS = [f"{SECRET}/Pa55+w==", f"{SECRET}#Pa55", f"{SECRET}?Pa55", f"{SECRET}@Pa55", f"{SECRET}:Pa55",
             f"{SECRET} Pa55"]


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("template", ["redis://:{}@127.0.0.1:6390/0", "redis://admin:{}@127.0.0.1:6390/0",
                                      "rediss://user:{}@127.0.0.1/1", "redis:/:{}@127.0.0.1",
                                      "{}@127.0.0.1:6390"])
def test_mask_url_hides_passwords_with_any_character(password, template):
    """mask_url hides the whole password, even with '/', '#', '?', '@', ':' or a space in it."""
    from labqueue.connection import mask_url

    masked = mask_url(template.format(password))
    assert SECRET not in masked and "Pa55" not in masked and "***" in masked and "127.0.0.1" in masked
    assert mask_url(f"redis://{SECRET}@127.0.0.1") == "redis://***@127.0.0.1"  # no ':': all of it is hidden


@pytest.mark.parametrize("url", [
    f"redis://:{SECRET}/Pa55+w==@127.0.0.1:6390/0",  # base64 with '/': urllib reads 's3cretZq' as the port
    f"redis://:{SECRET}#Pa55@127.0.0.1:6390/0",
    f"redis://:{SECRET}?Pa55@127.0.0.1:6390/0",
    f"redis://admin:{SECRET}/x@127.0.0.1:port/0",
    f"redis://:{SECRET}@127.0.0.1:99999/0",
    f"redis://:{SECRET}@127.0.0.1:6390/0?timeout=1",
    f"http://:{SECRET}@127.0.0.1:6390/0",
    f"redis:/:{SECRET}@127.0.0.1:6390/0",
])
def test_connect_errors_never_quote_the_password(url):
    """A malformed URL is a ConfigError that shows neither the password nor any piece of it."""
    with pytest.raises(ConfigError) as err:
        connect(url)
    assert SECRET not in str(err.value) and "Pa55" not in str(err.value)
    assert err.value.__cause__ is None  # no chained urllib message in a traceback
    assert err.value.__context__ is None or err.value.__suppress_context__


@pytest.mark.parametrize("url, option", [
    ("redis://127.0.0.1:6390/0?timeout=1", "timeout"),
    ("redis://127.0.0.1:6390/0?socket_timeout=1&colour=blue", "colour"),
    ("redis://127.0.0.1:6390/0?max_connections=4&typo_timeout=1", "typo_timeout"),
])
def test_unknown_url_option_is_a_config_error_naming_it(url, option):
    """connect() with an unknown URL query option raises ConfigError naming it (not a TypeError later)."""
    with pytest.raises(ConfigError, match=f"unknown option.*'{option}'"):
        connect(url)


def test_known_url_options_still_work(redis_server):
    """Options redis-py understands (socket_timeout, max_connections, client_name) are accepted."""
    client = connect(redis_server.url + "?socket_timeout=2&max_connections=4&client_name=lab")
    assert client.ping() and client.connection_pool.connection_kwargs["socket_timeout"] == 2.0


def test_a_password_with_special_characters_works_and_is_never_shown():
    """A server password with '/', '#', '?' and '@' works through RedisServer.url and never shows in describe()."""
    require_redis_server()
    password = f"{SECRET}/#?@Pa55+="
    with RedisServer(password=password) as server:
        client = connect(server.url)
        assert client.ping()
        assert SECRET not in describe(client) and SECRET not in repr(client)
        from labqueue.connection import mask_url

        assert SECRET not in mask_url(server.url)


def test_a_password_in_the_query_string_works_and_is_never_shown():
    """redis-py reads ?password= (and ?ssl_password=): connect() refused it as an 'unknown option' and
    quoted it in that error, and mask_url() left it in clear. It now connects, and never shows."""
    require_redis_server()
    from labqueue.connection import mask_url

    for url in (f"redis://127.0.0.1:1/0?password={SECRET}", f"redis://127.0.0.1:1/0?client_name=a&Password={SECRET}#x",
                f"rediss://u:{SECRET}@h:1/0?ssl_password={SECRET}&socket_timeout=1"):
        assert SECRET not in mask_url(url) and "***" in mask_url(url), mask_url(url)
    with pytest.raises(ConfigError, match="unknown option.*'colour'") as err:
        connect(f"redis://127.0.0.1:6390/0?password={SECRET}&colour=blue")
    assert SECRET not in str(err.value)
    with RedisServer(password=SECRET) as server:
        client = connect(f"redis://127.0.0.1:{server.port}/0?password={SECRET}")
        assert client.ping() and SECRET not in describe(client)
        client.close()
