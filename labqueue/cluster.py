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

import inspect
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
                  timeout_ms: int = 1000, attempts: int = 5) -> list[Any]:
    """Run `write(pipe)` then WAIT `replicas` `timeout_ms` on the connection of `key`'s master.

    `write` queues the write commands on a plain (non-transactional) pipeline of that one node; it
    may queue EVALSHA or a MULTI-free sequence. Returns the replies of the write commands.

    On a cluster a command the node did not run is sent again where the cluster says, each write
    still at most once: MOVED (the slot's master changed: failover, or a migration that ended)
    reloads the slot map; ASK (the slot is being migrated and the key is already on the importing
    node) sends it to that node after ASKING, as redis-py's RedisCluster does for its own calls,
    then WAITs there too; TRYAGAIN (Redis refuses a multi-key script whose keys the migration has
    split, or would create on the importing node, until the migration ends) waits a little and asks
    again. Up to `attempts` rounds, ASKs not counted; then the last refusal is raised (TryAgainError:
    transient, in LOST_NODE; MovedError: not in LOST_NODE), the commands it refused not having been written.

    WAIT blocks on the server for up to `timeout_ms`: the connection's socket timeout is lengthened
    by that much for the call, so a replica that does not confirm in time is a NotReplicated (with
    the count of replicas that did), never a redis TimeoutError. Raises NotReplicated when fewer
    than `replicas` replicas acknowledged within `timeout_ms` on any node written to (the write is
    then on the master, not known to be on a replica), redis errors otherwise (a TimeoutError only
    when the server itself did not answer in time: the write may or may not have happened).
    """
    if replicas < 1 or timeout_ms < 1:  # WAIT n 0 would block forever
        raise ValueError(f"durable write needs replicas >= 1 and timeout_ms >= 1, got {replicas}, {timeout_ms}")
    recorder = node_client(client, key).pipeline(transaction=False)
    write(recorder)
    commands, scripts = list(recorder.command_stack), set(recorder.scripts)
    recorder.reset()
    replies: list[Any] = [None] * len(commands)
    pending = list(range(len(commands)))  # indexes of the commands no node has run yet
    acked: int | None = None  # the fewest replicas any node written to confirmed
    ask: tuple[str, int] | None = None  # the importing node an ASK pointed at, for the next round
    last: Exception | None = None
    rounds = asks = 0  # an ASK costs no round: the importing node runs the command or says MOVED or TRYAGAIN
    while pending and rounds < attempts and asks <= attempts:
        target = node_client(client, key) if ask is None else _node_at(client, ask)
        pipe = target.pipeline(transaction=False)
        pipe.scripts |= scripts  # loaded on that node first if missing (SCRIPT EXISTS / LOAD)
        for i in pending:
            if ask is not None:
                pipe.execute_command("ASKING")  # lets the next command in on the importing node
            args, options = commands[i]
            pipe.execute_command(*args, **options)
        pipe.execute_command("WAIT", replicas, timeout_ms)
        try:
            got = _execute_once(pipe, extra_seconds=timeout_ms / 1000)
        except redis.ConnectionError:
            if is_cluster(client):
                _refresh_quietly(client)
            raise
        if ask is not None:
            got = [reply for n, reply in enumerate(got[:-1]) if n % 2 == 1] + got[-1:]  # drop ASKING's OKs
        ask, retry, wrote = None, [], False
        for i, reply in zip(pending, got[:-1]):
            if isinstance(reply, (redis.exceptions.AskError, redis.exceptions.TryAgainError, redis.ReadOnlyError)):
                if not is_cluster(client):
                    raise reply  # a plain client talking to a replica: nothing to redirect to
                retry.append(i)  # refused before it ran: nothing written by this one
                last = reply
                if isinstance(reply, redis.exceptions.AskError) and not isinstance(reply, redis.exceptions.MovedError):
                    ask = reply.node_addr
            elif isinstance(reply, redis.ResponseError):
                raise reply  # a real error (WRONGTYPE, a script's own error): as a plain write raises it
            else:
                replies[i], wrote = reply, True
        if wrote:
            if isinstance(got[-1], redis.ResponseError):
                raise got[-1]  # WAIT itself refused
            confirmed = int(got[-1])
            acked = confirmed if acked is None else min(acked, confirmed)
        pending = retry
        if ask is not None:
            asks += 1
        if not pending or ask is not None:
            continue
        rounds += 1
        if isinstance(last, (redis.exceptions.MovedError, redis.ReadOnlyError)):
            _refresh(client)  # the slot's master changed (failover, migration done): reload the map
        if rounds < attempts:
            time.sleep(0.05 * rounds)
    if pending:
        assert last is not None
        raise last
    if acked is not None and acked < replicas:
        raise NotReplicated(f"WAIT: {acked} of {replicas} replica(s) acknowledged the write to {key!r} "
                            f"within {timeout_ms} ms; the write is on the master but may be lost if it "
                            f"fails over now", acked, replicas)
    return replies


def _node_at(client: Any, address: tuple[str, int]) -> Any:
    """The plain redis-py client of the cluster node at (host, port), the slot map reloaded if it is new."""
    host, port = address
    node = client.get_node(host=host, port=port)
    if node is None:
        _refresh(client)
        node = client.get_node(host=host, port=port)
    if node is None:
        raise redis.exceptions.ClusterError(f"ASK redirection to {host}:{port}, a node the cluster does not list")
    return client.get_redis_connection(node)


def _execute_once(pipe: Any, extra_seconds: float = 0.0) -> list[Any]:
    """`pipe.execute(raise_on_error=False)` sent once: never re-sent by redis-py's retry on a timeout or a
    lost connection; an error reply is returned in its place.

    A plain redis.Redis(...) retries a pipeline up to 10 times on TimeoutError/ConnectionError; when WAIT
    outlasts the socket timeout, every retry wrote the job again (11 copies, then a TimeoutError). The
    pipeline runs on one connection of the pool whose retry is off for that call, and whose socket timeout
    is lengthened by `extra_seconds` (how long WAIT may block on the server); both are restored in the
    pipeline's reset(), before it gives the connection back to the pool (after, another thread could take
    the connection as the call left it, and the restore would change it in that thread's hands).
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = pipe.connection_pool
    conn = pool.get_connection("MULTI") if _wants_command_name(pool) else pool.get_connection()
    saved = conn.retry
    conn.retry = Retry(NoBackoff(), 0)
    pipe.connection = conn  # execute() uses it and gives it back to the pool in reset()
    sock = getattr(conn, "_sock", None)  # connected by get_connection()
    usual = conn.socket_timeout
    if sock is not None and usual is not None and extra_seconds > 0:
        sock.settimeout(usual + extra_seconds)
    give_back = pipe.reset

    def reset() -> None:  # once, before the connection goes back to the pool: no other thread ever takes it
        pipe.reset = give_back  # with retry off and the long timeout (restored after, they changed it in its hands)
        conn.retry = saved
        if sock is not None and getattr(conn, "_sock", None) is sock:
            sock.settimeout(usual)
        give_back()

    pipe.reset = reset
    try:
        return list(pipe.execute(raise_on_error=False))
    finally:
        if pipe.reset is reset:  # execute() ended before its reset() (loading the scripts failed): restore, release
            reset()


def _wants_command_name(pool: Any) -> bool:
    """True when `pool.get_connection` requires a command name, as redis-py before 5.3 does (pyproject allows
    redis>=5.0); later ones take none, and warn when given one."""
    try:
        parameter = inspect.signature(pool.get_connection).parameters.get("command_name")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty


def _refresh_quietly(client: Any) -> None:
    try:
        _refresh(client)
    except redis.RedisError:
        pass
