"""Redis Cluster: connect() detects it, describe() names it, queues spread over masters, durable writes.

Every pattern test that takes `r` also runs on the session's local cluster (tests/conftest.py); these
tests are about what only a cluster has: several masters, slots, replicas and WAIT.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

import labqueue as lq
from labqueue.cluster import NotReplicated, durable_write, is_cluster, node_name
from labqueue.lab.pitfalls import ChapterReliableQueue
from labqueue.localcluster import LocalCluster
from tests.conftest import CLUSTER_PASSWORD


@pytest.fixture
def cluster(redis_cluster: LocalCluster) -> LocalCluster:
    """The session's cluster, healthy and empty."""
    if redis_cluster.disturbed:
        redis_cluster.wait_ok()
    redis_cluster.flushall()
    return redis_cluster


def node_url(cluster: LocalCluster, name: str) -> str:
    return f"redis://:{CLUSTER_PASSWORD}@{name}/0"


def test_connect_to_any_node_gives_a_cluster_client(cluster: LocalCluster) -> None:
    """connect(url of any node, master or replica) returns a RedisCluster that reaches every slot."""
    for node in cluster.nodes:
        client = lq.connect(node_url(cluster, node.name))
        assert isinstance(client, RedisCluster), node.name
        for i in range(30):  # keys over many slots, hence over every master: no MOVED surfaces
            client.set(f"lq:{{q{i}}}:x", i)
        assert [int(client.get(f"lq:{{q{i}}}:x")) for i in range(30)] == list(range(30))
        client.close()


def test_connect_can_be_forced_either_way(cluster: LocalCluster, redis_server: Any) -> None:
    """cluster=False gives a plain client even on a cluster node; cluster=True fails on a plain server."""
    plain = lq.connect(cluster.url, cluster=False)
    assert type(plain) is redis.Redis and plain.ping()
    assert not is_cluster(lq.connect(redis_server.url))
    with pytest.raises(lq.ConfigError, match="no Redis Cluster at .*Cluster mode is not enabled"):
        lq.connect(redis_server.url, cluster=True)


def test_describe_names_the_cluster_never_the_password(cluster: LocalCluster) -> None:
    """describe() says 'Redis Cluster <version>, 3 masters + 3 replicas, state ok' and hides the password."""
    client = lq.connect(cluster.url)
    line = lq.describe(client)
    assert line.startswith("Redis Cluster 7") and "3 masters + 3 replicas" in line and "state ok" in line, line
    assert CLUSTER_PASSWORD not in line


def test_the_chapters_untagged_keys_fail_with_crossslot(cluster: LocalCluster) -> None:
    """The chapter's queue (keys q and q:processing, no hash tag) fails on a cluster; labqueue's does not."""
    client = lq.connect(cluster.url)
    chapter = ChapterReliableQueue(client, "emails")
    chapter.enqueue({"type": "send"})  # one key: fine
    with pytest.raises(RedisClusterException, match="all keys must map to the same key slot"):
        chapter.dequeue()  # redis-py refuses it before sending; the server itself answers CROSSSLOT:
    node = cluster.node(node_name(client, "emails")).client()
    try:
        with pytest.raises(redis.exceptions.ClusterCrossSlotError, match="don't hash to the same slot"):
            node.rpoplpush("emails", "emails:processing")
    finally:
        node.close()
    ours = lq.ReliableQueue(client, "emails")
    ours.enqueue({"type": "send"})
    job = ours.dequeue()
    assert job is not None and ours.ack(job) == 1


def test_queues_spread_over_every_master(cluster: LocalCluster) -> None:
    """Twelve queues land on all three masters, each queue whole on one (its hash tag)."""
    client = lq.connect(cluster.url)
    names = [f"q{i}" for i in range(12)]
    homes = {name: node_name(client, lq.ReliableQueue(client, name).keys.waiting) for name in names}
    assert set(homes.values()) == set(cluster.masters())
    for name in names:
        keys = lq.ReliableQueue(client, name).keys.all()
        assert {node_name(client, k) for k in keys} == {homes[name]}


def test_a_worker_drains_queues_on_every_master(cluster: LocalCluster) -> None:
    """Workers on a cluster client process every job of queues that live on different masters."""
    client = lq.connect(cluster.url)
    done: list[str] = []
    queues = [lq.ReliableQueue(client, f"w{i}") for i in range(6)]
    for q in queues:
        q.enqueue_many({"type": "t", "q": q.name, "i": i} for i in range(20))
    for q in queues:
        lq.Worker(q, {"t": lambda job: done.append(f"{job.data['q']}/{job.data['i']}")},
                  concurrency=2, prefetch=5, burst=True, poll_seconds=0.1).run()
    assert sorted(done) == sorted(f"{q.name}/{i}" for q in queues for i in range(20))
    assert all(q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0} for q in queues)


def test_durable_enqueue_waits_for_a_replica(cluster: LocalCluster) -> None:
    """durable=True: enqueue returns once a replica has the job (WAIT on the connection that wrote)."""
    client = lq.connect(cluster.url)
    for q in (lq.ReliableQueue(client, "d1", durable=True), lq.SimpleQueue(client, "d2", durable=True),
              lq.PriorityQueue(client, "d3", durable=True), lq.DelayedQueue(client, "d4", durable=True)):
        q.enqueue({"type": "x"})
        q.enqueue_many([{"type": "y"}, {"type": "z"}])
        replica = cluster.node(cluster.replica_of(node_name(client, q.keys.waiting))).client()
        try:
            assert replica.dbsize() >= 1, f"{type(q).__name__}: the replica has the job when enqueue returns"
        finally:
            replica.close()
    jq = lq.JobQueue(client, "d5", durable=True)
    job_id = jq.add("email", {"to": "a@example.com"})
    assert jq.get_job(job_id) is not None


def test_durable_enqueue_without_replica_raises_and_keeps_the_job(cluster: LocalCluster) -> None:
    """With the replica down, a durable enqueue raises NotReplicated; the job is on the master all the same."""
    client = lq.connect(cluster.url)
    q = lq.ReliableQueue(client, "lonely", durable=True, durable_timeout=0.2)
    replica = cluster.replica_of(node_name(client, q.keys.waiting))
    cluster.kill(replica)
    try:
        with pytest.raises(NotReplicated, match="0 of 1 replica") as err:
            q.enqueue({"type": "x"})
        assert err.value.acked == 0 and err.value.wanted == 1
        assert q.size() == 1, "the job is on the master even though no replica acknowledged it"
        assert lq.ReliableQueue(client, "lonely").enqueue({"type": "y"})  # not durable: no wait, no error
    finally:
        cluster.restart(replica)
        cluster.wait_ok()


def test_durable_option_is_checked(r: Any, backend: str) -> None:
    """A bad durable value is a ConfigError; the embedded fake has no replicas to wait for."""
    with pytest.raises(lq.ConfigError, match="durable must be"):
        lq.ReliableQueue(r, "bad", durable=-1)
    with pytest.raises(lq.ConfigError, match="durable_timeout must be"):
        lq.ReliableQueue(r, "bad", durable=True, durable_timeout=0)
    if backend == "fake":
        with pytest.raises(lq.ConfigError, match="fakeredis"):
            lq.JobQueue(r, "bad", durable=True)


def test_durable_write_on_a_single_server_without_replica_raises(redis_server: Any) -> None:
    """WAIT works on a plain server too: with no replica at all a durable write says so."""
    client = lq.connect(redis_server.url)
    with pytest.raises(NotReplicated):
        durable_write(client, "lq:{solo}:waiting", lambda p: p.lpush("lq:{solo}:waiting", "x"), timeout_ms=50)
    assert client.llen("lq:{solo}:waiting") == 1
    client.delete("lq:{solo}:waiting")


def test_durable_timeout_under_a_millisecond_does_not_block_forever(redis_server: Any) -> None:
    """durable_timeout=0.0004 s was sent as WAIT 1 0, which blocks forever (0 = no timeout) when no replica
    acknowledges: enqueue and JobQueue.add hung. It waits 1 ms and raises NotReplicated; the job is kept.
    A timeout beyond what WAIT parses is a ConfigError up front, not a WAIT error after the write."""
    client = lq.connect(redis_server.url)
    queues = [lq.SimpleQueue(client, "tiny-wait", durable=True, durable_timeout=0.0004),
              lq.JobQueue(client, "tiny-wait-jq", durable=True, durable_timeout=0.0004)]
    outcomes: list[str] = []

    def produce() -> None:
        for q in queues:
            try:
                q.enqueue({"n": 1}) if isinstance(q, lq.SimpleQueue) else q.add("t", {"n": 1})
                outcomes.append("returned")
            except NotReplicated:
                outcomes.append("NotReplicated")

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    producer.join(10)
    assert not producer.is_alive(), "a durable write with a 0.4 ms timeout is still blocked in WAIT after 10 s"
    assert outcomes == ["NotReplicated", "NotReplicated"], outcomes
    assert client.llen(queues[0].keys.waiting) == 1 and queues[1].get_job_counts()["waiting"] == 1
    with pytest.raises(lq.ConfigError, match="durable_timeout must be"):
        lq.SimpleQueue(client, "huge-wait", durable=True, durable_timeout=1e300)
    with pytest.raises(ValueError, match="timeout_ms >= 1"):
        durable_write(client, "lq:{solo}:waiting", lambda p: p.lpush("lq:{solo}:waiting", "x"), timeout_ms=0)
    assert client.llen("lq:{solo}:waiting") == 0
    for q in queues:
        q.obliterate() if isinstance(q, lq.JobQueue) else client.delete(q.keys.waiting)


def test_a_durable_write_is_sent_once_when_wait_outlasts_the_socket_timeout(redis_server: Any) -> None:
    """A plain redis.Redis(...) retries a pipeline on TimeoutError (redis-py's default Retry): with WAIT longer
    than the socket timeout and no replica, every retry wrote the job again (11 copies). It is sent once:
    the caller gets the timeout and one job."""
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.2)
    try:
        queues = [lq.SimpleQueue(client, "once", durable=True, durable_timeout=1.0),
                  lq.JobQueue(client, "once-jq", durable=True, durable_timeout=1.0)]
        for q in queues:
            with pytest.raises(redis.TimeoutError):
                q.enqueue({"n": 1}) if isinstance(q, lq.SimpleQueue) else q.add("t", {"n": 1})
        assert client.llen(queues[0].keys.waiting) == 1, "the durable enqueue was written more than once"
        assert queues[1].get_job_counts()["waiting"] == 1, "the durable add was written more than once"
        assert client.ping()  # the connection given back to the pool still works (and retries again)
        conn = client.connection_pool.get_connection()
        assert conn.retry.get_retries() > 0, "the pooled connection kept the durable write's retry=0"
        client.connection_pool.release(conn)
    finally:
        client.delete(queues[0].keys.waiting)
        queues[1].obliterate()
        client.close()


def test_durable_enqueue_follows_a_failover(cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """A durable enqueue with a stale slot map (its master failed over since) is redirected (MOVED), not lost."""
    import labqueue.cluster as lqc

    reloads: list[int] = []
    reload = lqc._refresh
    monkeypatch.setattr(lqc, "_refresh", lambda c: (reloads.append(1), reload(c)))
    client = lq.connect(cluster.url)
    q = lq.ReliableQueue(client, "moved", durable=True)
    q.enqueue({"type": "before"})
    old = node_name(client, q.keys.waiting)  # the client's cached slot map points here
    new = cluster.failover(old)  # SIGKILL, takeover, old master back as a replica of the new one
    assert new != old and cluster.master_of(q.keys.waiting) == new
    q.enqueue({"type": "after"})  # sent to the old master first: MOVED, slot map reloaded, sent again
    assert node_name(client, q.keys.waiting) == new and reloads, "the MOVED reply reloaded the slot map"
    assert sorted(job.type for job in [q.dequeue(), q.dequeue()] if job) == ["after", "before"]
