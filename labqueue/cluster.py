"""Redis Cluster support: which client is a cluster, which node holds a queue, durable writes (WAIT).

Every key of a queue shares the hash tag `{name}`, so a whole queue lives in one slot, on one master:
its scripts and MULTI/EXEC blocks stay on that node, and different queues spread over the masters.
A redis-py `RedisCluster` client routes each command by its key's slot and follows MOVED/ASK.

Durable writes. Replication is asynchronous: a master acknowledges a write before its replica has it,
so a failover right after can lose an acknowledged job. `durable_write` sends the write and then
`WAIT numreplicas timeout` in one pipeline on the one connection that wrote (WAIT counts the replicas
that acknowledged *that connection's* writes; inside MULTI or a script it would not block, so the
write is a plain pipeline before it). When fewer replicas acknowledge in time it raises
`NotReplicated`: the job is still in Redis on the master, only not yet known to be on a replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from .errors import LabqueueError


# What a client sees while a node is down or a failover is under way: all transient, retried with backoff.
LOST_NODE: tuple[type[BaseException], ...] = (
    redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError, redis.exceptions.TryAgainError,
    redis.exceptions.SlotNotCoveredError, redis.ReadOnlyError,
)


class NotReplicated(LabqueueError):
    """WAIT: fewer replicas than asked acknowledged a write in time (the write is on the master)."""

    def __init__(self, message: str, acked: int, wanted: int) -> None:
        super().__init__(message)
        self.acked, self.wanted = acked, wanted


def is_cluster(client: Any) -> bool:
    """True when `client` is a redis-py RedisCluster (or a pipeline of one)."""
    from redis.cluster import ClusterPipeline, RedisCluster

    return isinstance(client, (RedisCluster, ClusterPipeline))


def node_name(client: Any, key: str) -> str:
    """'host:port' of the master holding `key`'s slot ('single server' on a plain client)."""
    if not is_cluster(client):
        return "single server"
    return str(client.get_node_from_key(key).name)


def node_client(client: Any, key: str) -> Any:
    """The plain redis-py client of the master that holds `key` (the client itself when not a cluster)."""
    if not is_cluster(client):
        return client
    return client.get_redis_connection(client.get_node_from_key(key))


def topology(client: Any) -> dict[str, Any]:
    """{'masters': [names], 'replicas': [names], 'state': 'ok'|...} from CLUSTER NODES and CLUSTER INFO."""
    nodes = client.cluster_nodes()
    masters = sorted(addr for addr, d in nodes.items() if "master" in d["flags"] and "fail" not in d["flags"]
                     and d["slots"])
    replicas = sorted(addr for addr, d in nodes.items() if "slave" in d["flags"] and "fail" not in d["flags"])
    state = client.cluster_info().get("cluster_state", "?")
    return {"masters": masters, "replicas": replicas, "state": state}


def ping_for(client: Any, key: str) -> bool:
    """PING the server that holds `key`: on a cluster, reload the slot map first and ask its master."""
    if not is_cluster(client):
        return bool(client.ping())
    _refresh(client)
    return bool(node_client(client, key).ping())


def _refresh(client: Any) -> None:
    """Reload the cluster's slot map after a MOVED or a dead node."""
    client.nodes_manager.initialize()


def durable_write(client: Any, key: str, write: Callable[[Any], None], *, replicas: int = 1,
                  timeout_ms: int = 1000, attempts: int = 3) -> list[Any]:
    """Run `write(pipe)` then WAIT `replicas` `timeout_ms` on the connection of `key`'s master.

    `write` queues the write commands on a plain (non-transactional) pipeline of that one node; it
    may queue EVALSHA or a MULTI-free sequence. Returns the replies of the write commands. On a
    cluster a MOVED (the slot's master changed: failover) before anything was written reloads the
    slot map and tries again, up to `attempts` times. Raises NotReplicated when fewer than `replicas`
    replicas acknowledged within `timeout_ms` (the write is then on the master, not known to be on
    a replica), redis errors otherwise.
    """
    if replicas < 1 or timeout_ms < 1:  # WAIT n 0 would block forever
        raise ValueError(f"durable write needs replicas >= 1 and timeout_ms >= 1, got {replicas}, {timeout_ms}")
    last: Exception | None = None
    for attempt in range(attempts):
        target = node_client(client, key)
        pipe = target.pipeline(transaction=False)
        write(pipe)
        pipe.execute_command("WAIT", replicas, timeout_ms)
        try:
            replies = _execute_once(pipe)
        except (redis.exceptions.MovedError, redis.exceptions.AskError, redis.ReadOnlyError) as exc:
            if not is_cluster(client):
                raise  # a plain client talking to a replica: nothing to reload
            last = exc  # the write was refused by a node that no longer holds the slot: nothing written
            _refresh(client)
            time.sleep(0.05 * (attempt + 1))
            continue
        except redis.ConnectionError:
            if is_cluster(client):
                _refresh_quietly(client)
            raise
        acked = int(replies[-1])
        if acked < replicas:
            raise NotReplicated(f"WAIT: {acked} of {replicas} replica(s) acknowledged the write to {key!r} "
                                f"within {timeout_ms} ms; the write is on the master but may be lost if it "
                                f"fails over now", acked, replicas)
        return list(replies[:-1])
    assert last is not None
    raise last


def _execute_once(pipe: Any) -> list[Any]:
    """`pipe.execute()` sent once: never re-sent by redis-py's retry on a timeout or a lost connection.

    A plain redis.Redis(...) retries a pipeline up to 10 times on TimeoutError/ConnectionError; when WAIT
    outlasts the socket timeout, every retry wrote the job again (11 copies, then a TimeoutError). The
    pipeline runs on one connection of the pool whose retry is off for that call (execute() releases it).
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    conn = pipe.connection_pool.get_connection()
    saved = conn.retry
    conn.retry = Retry(NoBackoff(), 0)
    pipe.connection = conn  # execute() uses it and gives it back to the pool in reset()
    try:
        return list(pipe.execute())
    finally:
        conn.retry = saved


def _refresh_quietly(client: Any) -> None:
    try:
        _refresh(client)
    except redis.RedisError:
        pass
