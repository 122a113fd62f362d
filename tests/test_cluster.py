"""Redis Cluster: connect() detects it, describe() names it, queues spread over masters, durable writes.

Every pattern test that takes `r` also runs on the session's local cluster (tests/conftest.py); these
tests are about what only a cluster has: several masters, slots, replicas and WAIT.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

import labqueue as lq
from labqueue.cluster import NotReplicated, durable_write, is_cluster, node_name
from labqueue.lab.pitfalls import ChapterReliableQueue
from labqueue.lab.localcluster import LocalCluster
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


def test_a_durable_write_works_with_redis_py_5_0s_connection_pool(redis_server: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """pyproject allows redis>=5.0, whose ConnectionPool.get_connection(command_name, *keys) requires the
    command name (optional since 5.3): durable_write called get_connection() with none, so every durable
    write raised TypeError on redis-py 5.0-5.2. Checked with a pool whose get_connection has 5.0's signature."""
    client = redis.Redis.from_url(redis_server.url)
    newer = client.connection_pool.get_connection

    def get_connection(command_name: str, *keys: Any, **options: Any) -> Any:  # redis-py 5.0.8's signature
        return newer()

    monkeypatch.setattr(client.connection_pool, "get_connection", get_connection)
    with pytest.raises(NotReplicated, match="0 of 1 replica"):  # the write ran, WAIT answered: no TypeError
        durable_write(client, "lq:{py50}:waiting", lambda pipe: pipe.lpush("lq:{py50}:waiting", "v"), timeout_ms=10)
    monkeypatch.undo()
    assert client.lrange("lq:{py50}:waiting", 0, -1) == [b"v"]
    client.delete("lq:{py50}:waiting")


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
    than the socket timeout and no replica, every retry wrote the job again (11 copies). It is sent once,
    and the replica that did not confirm is the documented NotReplicated: it was a bare redis TimeoutError
    (the socket gave up before WAIT answered), which says nothing of where the job is."""
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.2)
    try:
        queues = [lq.SimpleQueue(client, "once", durable=True, durable_timeout=1.0),
                  lq.JobQueue(client, "once-jq", durable=True, durable_timeout=1.0)]
        for q in queues:
            with pytest.raises(NotReplicated, match="0 of 1 replica") as err:
                q.enqueue({"n": 1}) if isinstance(q, lq.SimpleQueue) else q.add("t", {"n": 1})
            assert (err.value.acked, err.value.wanted) == (0, 1)
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



def test_a_durable_write_gives_its_connection_back_with_its_usual_settings(redis_server: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """_execute_once turned the connection's retry off and lengthened its socket timeout for WAIT, and restored
    both only after pipe.execute() had given the connection back to the pool: between the two, another thread
    could take it with no retry and the long timeout (and the restore then changed a connection in that
    thread's hands). Seen deterministically at the pool's release(): the settings there are the usual ones."""
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.2)
    pool = client.connection_pool
    seen: list[tuple[int, float | None]] = []
    give_back = pool.release

    def release(conn: Any) -> None:  # what the next thread to take this connection would get
        sock = getattr(conn, "_sock", None)
        seen.append((conn.retry.get_retries(), sock.gettimeout() if sock is not None else None))
        give_back(conn)

    conn = pool.get_connection()
    usual = (conn.retry.get_retries(), 0.2)
    pool.release(conn)
    monkeypatch.setattr(pool, "release", release)
    try:
        with pytest.raises(NotReplicated):
            durable_write(client, "lq:{back}:waiting", lambda p: p.lpush("lq:{back}:waiting", "x"), timeout_ms=10)
        assert seen and seen[-1] == usual, f"given back to the pool with (retries, socket timeout) {seen[-1]}"
    finally:
        monkeypatch.undo()
        client.delete("lq:{back}:waiting")
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


def test_a_replica_too_slow_for_the_socket_timeout_is_not_replicated_on_a_cluster(cluster: LocalCluster) -> None:
    """On a cluster client with a short socket timeout, WAIT for more replicas than a master has (2 of its 1)
    answered redis TimeoutError after 0.2 s; it is NotReplicated (1 of 2) after the durable timeout, the job
    written once, and the connection's usual socket timeout is back for the next calls."""
    client = RedisCluster.from_url(cluster.url, socket_timeout=0.2)
    try:
        q = lq.SimpleQueue(client, "slow-replica", durable=2, durable_timeout=0.6)
        with pytest.raises(NotReplicated, match="1 of 2 replica") as err:
            q.enqueue({"type": "t"})
        assert (err.value.acked, err.value.wanted) == (1, 2)
        assert client.llen(q.keys.waiting) == 1
        node = client.get_redis_connection(client.get_node_from_key(q.keys.waiting))
        conn = node.connection_pool.get_connection()
        try:
            assert conn._sock.gettimeout() == 0.2, "the socket kept the lengthened timeout"
        finally:
            node.connection_pool.release(conn)
    finally:
        client.close()


class Migration:
    """Slot of `key` being migrated from its master to another (CLUSTER SETSLOT IMPORTING / MIGRATING), as
    redis-cli --cluster reshard does it; `finish()` hands the slot over; leaving puts it back on its master."""

    def __init__(self, cluster: LocalCluster, key: str) -> None:
        self.cluster = cluster
        self.ids = {row["name"]: row["id"] for row in cluster._nodes_view()}
        self.source = cluster.master_of(key)
        self.target = next(m for m in cluster.masters() if m != self.source)
        self.src = cluster.node(self.source).client()
        self.dst = cluster.node(self.target).client()
        self.slot = int(self.src.execute_command("CLUSTER", "KEYSLOT", key))

    def __enter__(self) -> Migration:
        self.dst.execute_command("CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.ids[self.source])
        self.src.execute_command("CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.ids[self.target])
        return self

    def keys_on(self, side: redis.Redis) -> list[bytes]:
        return list(side.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, 1000))

    def asking(self, *command: Any) -> Any:
        """A command run on the importing node (ASKING first), e.g. to read what landed there."""
        pipe = self.dst.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.execute_command(*command)
        return pipe.execute()[1]

    def _assign(self, owner: str) -> None:
        for master in self.cluster.masters():  # the owner last gets it: the others learn the map
            client = self.cluster.node(master).client()
            try:
                client.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[owner])
            finally:
                client.close()

    def _wait_owner(self, owner: str, timeout: float = 30.0) -> None:
        """Wait until every live node, replicas too, maps the slot to `owner`. A replica learns the new owner
        by gossip, seconds later on a loaded machine; meanwhile a client that reloads its slot map from it
        (redis-py does every few MOVED) is sent back to the old master, MOVED again, until its redirection
        budget is spent: MovedError (seen once in CI, reproduced under load). redis-cli --cluster reshard
        waits for an agreeing configuration in the same way."""
        port = int(owner.split(":")[1])
        deadline = time.monotonic() + timeout
        while True:
            views = []
            for node in self.cluster.nodes:
                if not self.cluster.alive(node):
                    continue
                client = node.client()
                try:
                    views.append(any(int(start) <= self.slot <= int(end) and int(master[1]) == port
                                     for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS")))
                except redis.RedisError:
                    views.append(False)
                finally:
                    client.close()
            if views and all(views):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"slot {self.slot}: not every node maps it to {owner} after {timeout:.0f} s")
            time.sleep(0.05)

    def finish(self) -> None:
        """Move the keys left on the source (MIGRATE), then give the slot to the target."""
        for key in self.keys_on(self.src):
            host, port = self.target.split(":")
            self.src.execute_command("MIGRATE", host, int(port), "", 0, 5000, "AUTH", CLUSTER_PASSWORD,
                                     "KEYS", key)
        self._assign(self.target)
        self._wait_owner(self.target)

    def __exit__(self, *exc: Any) -> None:
        for side in (self.src, self.dst):  # the test's keys go, then the slot is its master's again
            for key in self.keys_on(side):
                pipe = side.pipeline(transaction=False)
                pipe.execute_command("ASKING")
                pipe.delete(key)
                pipe.execute()
        self._assign(self.source)
        for side in (self.src, self.dst):
            side.execute_command("CLUSTER", "SETSLOT", self.slot, "STABLE")
        # Handing the slot back by SETSLOT NODE does not raise the source's config epoch, while the target's
        # went up when it took the slot (finish()): gossip would keep the target's claim alive in the
        # replicas' maps, and a later failover (test_cluster_failover.py, same cluster) would not converge.
        # BUMPEPOCH makes the source's claim the newest, so every node agrees again.
        self.src.execute_command("CLUSTER", "BUMPEPOCH")
        for side in (self.src, self.dst):
            side.close()
        self._wait_owner(self.source)
        self.cluster.wait_ok()


def test_a_durable_enqueue_follows_an_ask_redirection_during_a_slot_migration(cluster: LocalCluster) -> None:
    """While the queue's slot migrates, a key already moved (or new) is on the importing node: its master
    answers -ASK. durable_write retried on the same master (reloading a slot map that had not changed)
    and raised AskError: no durable enqueue during a reshard. It sends the write to the importing node
    after ASKING, as RedisCluster does for its own calls, WAITs there, and the job is there, once."""
    client = lq.connect(cluster.url)
    try:
        for q in (lq.SimpleQueue(client, "resharded", durable=True), lq.DelayedQueue(client, "resharded-d", durable=True),
                  lq.ReliableQueue(client, "resharded-r", durable=True)):
            with Migration(cluster, q.keys.waiting) as move:
                q.enqueue({"type": "during"})
                assert move.keys_on(move.src) == [], "nothing was written on the migrating master"
                assert move.asking("LLEN", q.keys.waiting) == 1, "the job is on the importing node, once"
                move.finish()
                assert [job.type for job in [q.dequeue()] if job] == ["during"]
    finally:
        client.close()


def test_a_multi_key_durable_write_during_a_migration_is_refused_whole_and_retryable(cluster: LocalCluster) -> None:
    """A script over two keys of a queue (priority_push.lua: the priority set and its counter) cannot run
    while they are being migrated: Redis answers ASK on the source, TRYAGAIN on the importing node, until
    the migration ends. durable_write asks again a few times, then raises TryAgainError (transient, in
    LOST_NODE: the producer sends again), nothing written; after the migration the same enqueue works."""
    from redis.exceptions import TryAgainError

    from labqueue.cluster import LOST_NODE

    client = lq.connect(cluster.url)
    q = lq.PriorityQueue(client, "resharded-p", durable=True)
    try:
        with Migration(cluster, q.keys.priority) as move:
            with pytest.raises(TryAgainError) as err:
                q.enqueue({"type": "during"})
            assert isinstance(err.value, LOST_NODE)
            assert move.keys_on(move.src) == [] and move.keys_on(move.dst) == [], "nothing written"
            move.finish()
            q.enqueue({"type": "after"})  # MOVED from the old master: slot map reloaded
            assert [job.type for job in [q.dequeue()] if job] == ["after"]
    finally:
        client.close()


def test_a_multi_key_durable_write_waits_out_a_migration_split(cluster: LocalCluster,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An enqueue with an id (enqueue.lua: the waiting list and the attempts hash) while the migration has moved
    one key and not the other: Redis answers TRYAGAIN on both sides. durable_write waits a little and asks
    again; once the migration ends (MOVED: slot map reloaded) the job is written once, where the slot is."""
    import types

    import labqueue.cluster as lqc

    waits: list[float] = []
    client = lq.connect(cluster.url)
    q = lq.ReliableQueue(client, "split", durable=True)
    try:
        q.enqueue({"type": "first"}, job_id="j1")  # both keys exist on the source
        with Migration(cluster, q.keys.waiting) as move:
            host, port = move.target.split(":")
            move.src.execute_command("MIGRATE", host, int(port), "", 0, 5000, "AUTH", CLUSTER_PASSWORD,
                                     "KEYS", q.keys.attempts)  # the keys are split: TRYAGAIN

            def wait(seconds: float) -> None:  # the migration ends during durable_write's second wait
                waits.append(seconds)
                if len(waits) == 2:
                    move.finish()
                time.sleep(seconds)

            monkeypatch.setattr(lqc, "time", types.SimpleNamespace(sleep=wait))
            q.enqueue({"type": "second"}, job_id="j2")
            monkeypatch.undo()
            assert len(waits) >= 2, waits  # TRYAGAIN twice (then MOVED: the map reloaded)
            assert client.llen(q.keys.waiting) == 2 and node_name(client, q.keys.waiting) == move.target
            assert sorted(job.id for job in [q.dequeue(), q.dequeue()] if job) == ["j1", "j2"]
    finally:
        client.close()
