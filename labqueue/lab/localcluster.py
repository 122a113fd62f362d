"""A private Redis Cluster (3 masters + 3 replicas by default) on free ports, for tests, the benchmark and
notebook 12.

Each node is a `redis-server --cluster-enabled yes` in its own folder of one temporary directory (its
`nodes.conf` survives a SIGKILL, so a killed master comes back and rejoins as a replica of the node
that took its slots). `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes` joins them.
All processes share one process group of their own, so one killpg cleans everything up; the ports
and their cluster bus ports (port + 10000) are checked free, and 6379 is never used.

    with LocalCluster() as cluster:
        client = labqueue.connect(cluster.url)      # a redis.cluster.RedisCluster
        cluster.failover(cluster.master_of("lq:{emails}:waiting"))
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from .. import _running

BUS_OFFSET = 10000


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(n: int) -> list[int]:
    """`n` distinct free ports whose cluster bus ports (port + 10000) are free too, never 6379."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        port = rng.randrange(20000, 65535 - BUS_OFFSET)
        if port != 6379 and port not in ports and _bindable(port) and _bindable(port + BUS_OFFSET):
            ports.append(port)
    return ports


def cluster_tools() -> tuple[str, str] | None:
    """Paths of redis-server and redis-cli, or None when either is missing."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


@dataclass
class Node:
    """One redis-server of the cluster."""

    port: int
    dir: Path
    password: str | None = field(default=None, repr=False)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: object) -> redis.Redis:
        """A plain client to this node alone (no redirections)."""
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password,  # type: ignore[arg-type]
                           socket_connect_timeout=1, **kwargs)


class LocalCluster:
    """`masters` masters with `replicas` replicas each, started by `start()` and removed by `stop()`."""

    def __init__(self, masters: int = 3, replicas: int = 1, *, node_timeout_ms: int = 5000,
                 appendonly: bool = False, password: str | None = None) -> None:
        tools = cluster_tools()
        if tools is None:
            raise FileNotFoundError("redis-server and redis-cli are needed for a local cluster "
                                    "(apt-get install redis-server)")
        if masters < 3:
            raise ValueError("Redis Cluster needs at least 3 masters")
        self.server_binary, self.cli_binary = tools
        self.n_masters, self.n_replicas = masters, replicas
        self.node_timeout_ms = node_timeout_ms
        self.appendonly = appendonly
        self.password = password
        self._tmp = tempfile.TemporaryDirectory(prefix="labqueue-cluster-")
        self.dir = Path(self._tmp.name)
        ports = free_cluster_ports(masters * (1 + replicas))
        self.nodes = [Node(port, self.dir / str(port), password) for port in ports]
        self._pgid: int | None = None
        self._atexit = False
        self.disturbed = False  # a node was killed since the last wait_ok()

    @property
    def url(self) -> str:
        """The URL of the first live node (any node leads to the whole cluster)."""
        auth = f":{self.password}@" if self.password else ""
        node = next((n for n in self.nodes if self.alive(n)), self.nodes[0])
        return f"redis://{auth}127.0.0.1:{node.port}/0"

    # -- processes ---------------------------------------------------------------------------------
    def _spawn(self, node: Node) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        args = [self.server_binary, "--port", str(node.port), "--bind", "127.0.0.1", "--dir", str(node.dir),
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms), "--save", "", "--daemonize", "no",
                "--repl-diskless-sync-delay", "0",  # a replica (re)joining syncs now, not 5 s later
                "--appendonly", "yes" if self.appendonly else "no", "--logfile", str(node.dir / "redis.log")]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        # The first node leads a new process group; every other node joins it (one killpg stops all).
        def join_group() -> None:
            try:
                os.setpgid(0, self._pgid or 0)
            except OSError:  # the group is gone (every member killed): start a new one
                os.setpgid(0, 0)
        node.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=join_group)
        if self._pgid is None:
            self._pgid = node.proc.pid

    def _wait_ping(self, node: Node, timeout: float = 10.0) -> None:
        client = node.client()
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    if (node.proc is not None and node.proc.poll() is not None) or time.monotonic() > deadline:
                        raise RuntimeError(f"cluster node {node.name} did not start; see {node.dir / 'redis.log'}") \
                            from None
                    time.sleep(0.02)
        finally:
            client.close()

    def start(self, timeout: float = 30.0) -> LocalCluster:
        """Start every node, create the cluster and wait until every node says cluster_state:ok."""
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            self._wait_ping(node)
        create = [self.cli_binary, "--cluster", "create", *(n.name for n in self.nodes),
                  "--cluster-replicas", str(self.n_replicas), "--cluster-yes"]
        if self.password:
            create += ["-a", self.password, "--no-auth-warning"]
        done = subprocess.run(create, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        self.wait_ok(timeout)
        _running.started(self, self.stop)  # in a notebook: stopped when its cell runs again
        return self

    def stop(self) -> None:
        """Kill every node (SIGKILL to the process group) and remove the folder."""
        if self._pgid is not None:
            try:
                os.killpg(self._pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._pgid = None
        for node in self.nodes:
            if node.proc is not None:
                if node.proc.poll() is None:
                    node.proc.kill()
                node.proc.wait()
                node.proc = None
        self._tmp.cleanup()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- topology ----------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        """The node called 'host:port'."""
        return next(n for n in self.nodes if n.name == name)

    def _nodes_view(self) -> list[dict[str, str]]:
        """CLUSTER NODES as seen by a live node: [{name, role, master_id, id, flags}]."""
        for node in self.nodes:
            if node.proc is None or node.proc.poll() is not None:
                continue
            client = node.client(decode_responses=True)
            try:
                text = client.execute_command("CLUSTER", "NODES")
            except redis.RedisError:
                continue
            finally:
                client.close()
            rows = []
            for line in str(text).splitlines():
                parts = line.split()
                flags = parts[2].split(",")
                rows.append({"id": parts[0], "name": parts[1].split("@")[0], "flags": parts[2],
                             "role": "master" if "master" in flags else "replica", "master_id": parts[3],
                             "failed": str("fail" in flags), "slots": " ".join(parts[8:])})
            return rows
        raise RuntimeError("no cluster node answers")

    def masters(self) -> list[str]:
        """Names of the masters serving slots, as the cluster sees them now."""
        return [row["name"] for row in self._nodes_view() if row["role"] == "master" and row["slots"]
                and row["failed"] == "False"]

    def _role(self, name: str) -> dict[str, object]:
        client = self.node(name).client(decode_responses=True)
        try:
            return dict(client.info("replication"))
        finally:
            client.close()

    def master_of(self, key: str) -> str:
        """Name of the master that serves `key`'s slot now (a node's slot map, confirmed by that master)."""
        for node in self.nodes:
            if not self.alive(node):
                continue
            client = node.client(decode_responses=True)
            try:
                slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
                ranges = client.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                continue
            finally:
                client.close()
            for start, end, master, *_ in ranges:
                name = f"127.0.0.1:{int(master[1])}"
                if int(start) <= slot <= int(end) and self.alive(self.node(name)) \
                        and self._role(name).get("role") == "master":
                    return name
        raise RuntimeError(f"no live master serves the slot of {key!r}")

    def replica_of(self, master: str, timeout: float = 10.0) -> str:
        """Name of a replica that master `master` says is online (INFO replication: slaveN), waiting up to
        `timeout` s for one: a master marks a replica online only at its first REPLCONF ACK after the
        sync, a moment after the replica itself reports its link up (what wait_ok() waits for)."""
        deadline = time.monotonic() + timeout
        while True:
            for field_name, value in self._role(master).items():
                if field_name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online":
                    name = f"{value['ip']}:{value['port']}"
                    if self.alive(self.node(name)):
                        return name
            if time.monotonic() > deadline:
                raise RuntimeError(f"master {master} has no online replica after {timeout:.0f} s")
            time.sleep(0.05)

    @staticmethod
    def alive(node: Node) -> bool:
        return node.proc is not None and node.proc.poll() is None

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every live node reports cluster_state:ok and every master has its replicas."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                states = []
                for node in self.nodes:
                    if not self.alive(node):
                        continue
                    client = node.client(decode_responses=True)
                    try:
                        info = client.execute_command("CLUSTER", "INFO")
                    finally:
                        client.close()
                    states.append("cluster_state:ok" in str(info))
                view = self._nodes_view()
                live_replicas = [row for row in view if row["role"] == "replica" and row["failed"] == "False"]
                if all(states) and len(live_replicas) >= self.n_masters * self.n_replicas and self._synced():
                    self.disturbed = False
                    return
            except (redis.RedisError, RuntimeError, StopIteration):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"local cluster not ok after {timeout:.0f} s; logs in {self.dir}")
            time.sleep(0.05)

    def _synced(self) -> bool:
        """Every live replica has finished its initial sync (master_link_status:up)."""
        for node in self.nodes:
            if not self.alive(node):
                continue
            client = node.client(decode_responses=True)
            try:
                info = client.info("replication")
            finally:
                client.close()
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    # -- failures ----------------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        """SIGKILL node `name`, as a crash would (its nodes.conf stays for a restart)."""
        node = self.node(name)
        self.disturbed = True
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait()
        node.proc = None

    def restart(self, name: str) -> None:
        """Start node `name` again on its port and folder; a deposed master rejoins as a replica."""
        node = self.node(name)
        self.kill(name)
        self._spawn(node)
        self._wait_ping(node)

    def promote(self, replica: str) -> None:
        """CLUSTER FAILOVER TAKEOVER on `replica`: it takes its master's slots without a vote."""
        client = self.node(replica).client()
        try:
            client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
        finally:
            client.close()
        deadline = time.monotonic() + 10
        while True:
            client = self.node(replica).client(decode_responses=True)
            try:
                if client.info("replication").get("role") == "master":
                    return
            finally:
                client.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{replica} did not become a master")
            time.sleep(0.02)

    def failover(self, master: str, *, restart: bool = True) -> str:
        """Kill `master`, promote its replica, restart the old master (it rejoins as a replica).

        Returns the name of the new master.
        """
        replica = self.replica_of(master)
        self.kill(master)
        self.promote(replica)
        if restart:
            self.restart(master)
            self.wait_ok()
        return replica

    def heal(self) -> None:
        """Restart every node that is down (a deposed master rejoins as a replica), then wait_ok()."""
        for node in self.nodes:
            if not self.alive(node):
                self.restart(node.name)
        self.wait_ok()

    def flushall(self) -> None:
        """FLUSHALL on every live master (tests start clean)."""
        for name in self.masters():
            client = self.node(name).client()
            try:
                client.flushall()
            finally:
                client.close()
