"""Fixtures: every test that takes `r` runs three times: on a fresh fakeredis, on a private redis-server
and on a private Redis Cluster (3 masters + 3 replicas, labqueue.lab.localcluster).

The private server and cluster are started once per session on free ports in temp folders (never
the shared server on 6379) and flushed between tests (FLUSHALL on every master of the cluster). Where redis-server is missing the real-server runs skip, except under CI=true
(or LABQUEUE_REQUIRE_REDIS=1), where that skip becomes a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
import redis

from labqueue.lab.localcluster import LocalCluster, cluster_tools
from labqueue.lab.server import RedisServer, redis_server_binary

CLUSTER_PASSWORD = "cl-secret-4e1f"  # the test cluster asks for one: describe() and errors must never show it
REQUIRE_REAL = os.environ.get("CI") == "true" or os.environ.get("LABQUEUE_REQUIRE_REDIS") == "1"


def require_redis_server() -> None:
    """Skip (or fail under CI) when redis-server is not installed."""
    if redis_server_binary() is None:
        message = "redis-server is not on PATH: real-server tests need it (apt-get install redis-server)"
        if REQUIRE_REAL:
            pytest.fail(message + " [CI requires the real-server run]")
        pytest.skip(message)


def require_cluster_tools() -> None:
    """Skip (or fail under CI) when redis-server or redis-cli is not installed."""
    if cluster_tools() is None:
        message = "redis-server and redis-cli are needed for the cluster tests (apt-get install redis-server)"
        if REQUIRE_REAL:
            pytest.fail(message + " [CI requires the real-server run]")
        pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the whole session."""
    require_redis_server()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """One private Redis Cluster (3 masters + 3 replicas) for the whole session."""
    require_cluster_tools()
    with LocalCluster(password=CLUSTER_PASSWORD) as cluster:
        yield cluster


@pytest.fixture(params=["fake", "real", "cluster"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Factory of clients to one clean server of the test's backend (`make_client(decode_responses=False)`)."""
    clients: list[Any] = []
    if backend == "fake":
        server = fakeredis.FakeServer()

        def factory(decode_responses: bool = True) -> Any:
            client = fakeredis.FakeRedis(server=server, decode_responses=decode_responses)
            clients.append(client)
            return client
    elif backend == "cluster":
        from redis.cluster import RedisCluster

        local: LocalCluster = request.getfixturevalue("redis_cluster")
        if local.disturbed:  # a node was killed: let the cluster heal before the next test
            local.wait_ok()
        local.flushall()

        def factory(decode_responses: bool = True) -> Any:
            client = RedisCluster.from_url(local.url, decode_responses=decode_responses)
            clients.append(client)
            return client
    else:
        real: RedisServer = request.getfixturevalue("redis_server")
        redis.Redis.from_url(real.url).flushall()

        def factory(decode_responses: bool = True) -> Any:
            client = redis.Redis.from_url(real.url, decode_responses=decode_responses)
            clients.append(client)
            return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def r(make_client: Callable[..., Any]) -> Any:
    """A decode_responses=True client (as the chapter makes them) on the test's backend."""
    return make_client(decode_responses=True)


@pytest.fixture(params=[True, False], ids=["str", "bytes"])
def rd(make_client: Callable[..., Any], request: pytest.FixtureRequest) -> Any:
    """A client with decode_responses True and then False, on the test's backend."""
    return make_client(decode_responses=bool(request.param))
