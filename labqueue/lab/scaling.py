"""Notebook 12 (scaling out on Redis Cluster): the cluster to run on, and the experiments around the
queue operations the lesson is about.

- `lab_cluster()`: $LABQUEUE_CLUSTER_URL when set, else a private local cluster (3 masters + 3
  replicas, labqueue.lab.localcluster, its processes in a process group of their own, killed when the
  kernel exits), else None when redis-server / redis-cli are missing (the notebook says so and skips);
- `where_queues_live`, `crossslot`: slots, hash tags, the CROSSSLOT error;
- `spread_run`: worker threads drain queues spread over every master, jobs counted per master;
- `FailoverRun`: workers drain queues while a master is killed and its replica promoted;
- `ack_loss`: acknowledged writes lost when a master dies before its replica has them, with and
  without durable enqueue (WAIT); `enqueue_latencies`: what WAIT costs.

Redis structures: the queues' own keys (`lq:{name}:...`) only.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

from ..cluster import LOST_NODE, NotReplicated, node_name
from ..connection import connect
from ..reliable import ReliableQueue
from ..worker import Worker
from .i18n import N_, _, number

ENV_URL = "LABQUEUE_CLUSTER_URL"


@dataclass
class LabCluster:
    """The cluster the notebook uses: its URL, and the LocalCluster when we started it (else None)."""

    url: str
    local: Any = None  # labqueue.lab.localcluster.LocalCluster: kill / promote / restart need it

    def client(self) -> Any:
        """A cluster client through a live node (after failovers the first node may be down)."""
        return connect(self.local.url if self.local is not None else self.url)

    def close(self) -> None:
        if self.local is not None:
            self.local.stop()
            self.local = None


def lab_cluster() -> LabCluster | None:
    """$LABQUEUE_CLUSTER_URL, else a local cluster started now, else None (no redis-server here)."""
    url = os.environ.get(ENV_URL)
    if url:
        return LabCluster(url)
    from .localcluster import LocalCluster, cluster_tools

    if cluster_tools() is None:
        return None
    local = LocalCluster().start()  # atexit stops it with the kernel
    return LabCluster(local.url, local)


def crossslot(client: Any, keys: list[str]) -> str:
    """Run a two-key Lua script on `keys` on the node of the first key; the error it gets, or 'ok'."""
    from ..cluster import node_client

    try:
        node_client(client, keys[0]).eval("return redis.call('RPOPLPUSH', KEYS[1], KEYS[2])", len(keys), *keys)
    except redis.ResponseError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def masters(client: Any) -> list[str]:
    """Names of the masters serving slots now (CLUSTER NODES)."""
    from ..cluster import topology

    return list(topology(client)["masters"])


def spread_names(client: Any, base: str, per_master: int) -> list[str]:
    """Queue names `base-0`, `base-1`, ... chosen so that every master holds `per_master` of them."""
    from ..cluster import topology

    masters = topology(client)["masters"]
    per: dict[str, list[str]] = {m: [] for m in masters}
    i = 0
    while any(len(v) < per_master for v in per.values()):
        name = f"{base}-{i}"
        home = node_name(client, ReliableQueue(client, name).keys.waiting)
        if home in per and len(per[home]) < per_master:
            per[home].append(name)
        i += 1
    return [n for k in range(per_master) for n in (names[k] for names in per.values())]


def where_queues_live(client: Any, names: list[str]) -> list[dict[str, Any]]:
    """For each queue: its hash slot and the master that serves it (CLUSTER KEYSLOT, the slot map)."""
    rows = []
    for name in names:
        key = ReliableQueue(client, name).keys.waiting
        rows.append({N_("queue"): name, N_("key"): key, N_("slot"): int(client.keyslot(key)),
                     N_("master"): node_name(client, key)})
    return rows


@dataclass
class SpreadResult:
    jobs: int
    processed: int
    seconds: float
    per_master: dict[str, int]

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0


def spread_run(client: Any, names: list[str], jobs: int, *, threads: int = 2, prefetch: int = 20) -> SpreadResult:
    """Enqueue `jobs` over the queues, drain them with one Worker per queue; count per master."""
    queues = [ReliableQueue(client, n) for n in names]
    for q in queues:
        q.clear()
    per = jobs // len(queues)
    for q in queues:
        q.enqueue_many({"type": "work", "q": q.name, "i": i} for i in range(per))
    done: Counter[str] = Counter()
    lock = threading.Lock()

    def work(job: Any) -> None:
        with lock:
            done[job.data["q"]] += 1

    workers = [Worker(q, {"work": work}, concurrency=threads, prefetch=prefetch, burst=True, poll_seconds=0.05)
               for q in queues]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - start
    per_master: Counter[str] = Counter()
    for q in queues:
        per_master[node_name(client, q.keys.waiting)] += done[q.name]
        q.clear()
    return SpreadResult(per * len(queues), sum(done.values()), seconds, dict(per_master))


@dataclass
class Tally:
    jobs: int
    processed: int
    lost: int
    duplicated: int
    failovers: int
    reconnects: int
    seconds: float

    def __str__(self) -> str:
        return _("jobs {jobs}, processed {processed}, lost {lost}, duplicated {duplicated}, failovers {failovers}, "
                 "worker reconnections {reconnects}, {seconds} s").format(
            jobs=self.jobs, processed=self.processed, lost=self.lost, duplicated=self.duplicated,
            failovers=self.failovers, reconnects=self.reconnects, seconds=number(self.seconds, ".1f"))


class FailoverRun:
    """Worker threads drain durable-enqueued jobs from queues on every master; `fail_over(queue)` kills
    that queue's master and promotes its replica meanwhile. Executions are counted in this kernel
    (not in Redis), so a failover cannot lose the count itself."""

    current: FailoverRun | None = None  # the run of this kernel whose workers are still running

    def __init__(self, cluster: LabCluster, names: list[str], jobs: int, *, work_ms: float = 2.0) -> None:
        if FailoverRun.current is not None:  # the cell run again before its tally: stop the last run first
            FailoverRun.current.stop()
        if cluster.local is not None:
            cluster.local.heal()  # a master killed by a run never waited for comes back as a replica
        FailoverRun.current = self
        self.cluster = cluster
        self.client = cluster.client()
        self.queues = [ReliableQueue(self.client, n, lease_seconds=1.0, durable=True, max_attempts=50)
                       for n in names]
        for q in self.queues:
            q.clear()
        self.ids: list[str] = []
        for i in range(jobs):
            q = self.queues[i % len(self.queues)]
            self.ids.append(q.enqueue({"type": "work", "i": i}))
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.failovers = 0
        self.processed_at_failover: list[int] = []  # jobs done when each failover started
        self.killed: list[str] = []
        self.work_ms = work_ms
        self.bar: Any = None  # a live progress bar, once progress_bar() made it
        self.workers = [Worker(q, {"work": self._work}, concurrency=2, prefetch=5, poll_seconds=0.1)
                        for q in self.queues]
        self.started = time.perf_counter()
        for w in self.workers:
            w.start()

    def _work(self, job: Any) -> None:
        time.sleep(self.work_ms / 1000)
        with self._lock:
            self.runs[job.id] += 1
            done = len(self.runs)
        if self.bar is not None:
            self.bar.value = done  # threads only set widget values

    def progress_bar(self) -> Any:
        """A live bar (CSS class lq-live) of the jobs processed so far, set by the worker threads."""
        from .panel import progress_bar

        if self.bar is None:
            self.bar = progress_bar(len(self.ids), _("processed"))
            self.bar.value = self.processed()
        return self.bar

    def processed(self) -> int:
        with self._lock:
            return len(self.runs)

    def fail_over(self, queue_index: int = 0) -> str:
        """SIGKILL the master of queue `queue_index`, promote its replica; returns 'old -> new'."""
        local = self.cluster.local
        if local is None:
            raise RuntimeError(_("failover needs the notebook's own local cluster"))
        master = local.master_of(self.queues[queue_index].keys.waiting)
        replica = local.replica_of(master)
        deadline = time.monotonic() + 5  # mid-drain, as the lesson says: the workers have begun (the
        while self.processed() == 0 and time.monotonic() < deadline:  # notebook clicks right after start)
            time.sleep(0.02)
        self.processed_at_failover.append(self.processed())
        local.kill(master)
        local.promote(replica)
        self.failovers += 1
        self.killed.append(master)
        return f"{master} -> {replica}"

    def stop(self) -> None:
        """Stop the worker threads (they finish the jobs in hand)."""
        for w in self.workers:
            w.stop(wait=False)
        for w in self.workers:
            w.join()
        if FailoverRun.current is self:
            FailoverRun.current = None

    def drained(self) -> bool:
        try:
            return all(sum(q.counts().values()) == 0 for q in self.queues)
        except (redis.RedisError, *LOST_NODE):
            return False

    def wait(self, timeout: float = 20.0) -> Tally:
        """Until every queue is empty; stop the workers, restart the killed masters (as replicas)."""
        deadline = time.monotonic() + timeout
        while not self.drained() and time.monotonic() < deadline:
            time.sleep(0.05)
        seconds = time.perf_counter() - self.started
        self.stop()
        with self._lock:
            lost = sum(1 for i in self.ids if self.runs[i] == 0)
            dup = sum(max(n - 1, 0) for n in self.runs.values())
        reconnects = sum(w.stats.get("connection_lost", 0) for w in self.workers)
        if self.cluster.local is not None:
            for name in self.killed:
                self.cluster.local.restart(name)  # it rejoins as a replica of the node that took over
            self.killed = []
            self.cluster.local.wait_ok()
        return Tally(len(self.ids), self.processed(), lost, dup, self.failovers, reconnects, seconds)


@dataclass
class LossResult:
    acknowledged: int
    lost: int
    refused: int  # durable only: enqueues that raised NotReplicated (the producer knows)


def ack_loss(cluster: LabCluster, name: str, jobs: int, *, durable: bool) -> LossResult:
    """A replica cut off from its master, `jobs` enqueued, the master killed, the replica promoted:
    how many *acknowledged* jobs the new master lacks.

    The replica is frozen (SIGSTOP) and its master drops the replication link (CLIENT KILL TYPE
    replica), so the replica cannot reconnect; it resumes (SIGCONT) only after its master is dead,
    then takes over (CLUSTER FAILOVER TAKEOVER).
    """
    local = cluster.local
    if local is None:
        raise RuntimeError(_("this experiment needs the notebook's own local cluster"))
    client = cluster.client()
    q = ReliableQueue(client, name, durable=durable, durable_timeout=0.05)
    q.clear()
    local.heal()
    master = local.master_of(q.keys.waiting)
    replica = local.node(local.replica_of(master))
    assert replica.proc is not None
    acked: list[str] = []
    refused, promoted = 0, False
    os.kill(replica.proc.pid, signal.SIGSTOP)  # frozen first, so it cannot reconnect...
    try:
        link = local.node(master).client()
        try:
            link.client_kill_filter(_type="replica")  # ...when its master drops the replication link
        finally:
            link.close()
        for i in range(jobs):
            try:
                acked.append(q.enqueue({"type": "work", "i": i}))
            except NotReplicated:
                refused += 1
        local.kill(master)
        os.kill(replica.proc.pid, signal.SIGCONT)
        local.promote(replica.name)
        promoted = True
    finally:
        if not promoted:  # interrupted: leave the cluster whole (the replica running, the master back)
            os.kill(replica.proc.pid, signal.SIGCONT)
            if not local.alive(local.node(master)):
                local.restart(master)
    deadline = time.monotonic() + 10
    while True:
        try:
            survivors = set(job.id for job in _peek(client, q))
            break
        except (redis.RedisError, *LOST_NODE):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    local.restart(master)
    local.wait_ok()
    lost = sum(1 for i in acked if i not in survivors)
    q.clear()
    client.close()
    return LossResult(len(acked), lost, refused)


def _peek(client: Any, q: ReliableQueue) -> list[Any]:
    from ..job import Job

    client.nodes_manager.initialize()
    return [Job.from_json(raw) for raw in client.lrange(q.keys.waiting, 0, -1)]


def enqueue_latencies(client: Any, name: str, jobs: int) -> dict[str, list[float]]:
    """Milliseconds per one-by-one enqueue, plain then durable (LPUSH, then LPUSH + WAIT 1)."""
    out: dict[str, list[float]] = {}
    for label, durable in ((_("plain"), False), (_("durable (WAIT 1)"), True)):
        q = ReliableQueue(client, name, durable=durable)
        q.clear()
        lat = []
        for i in range(jobs):
            t = time.perf_counter()
            q.enqueue({"type": "work", "i": i})
            lat.append(1000 * (time.perf_counter() - t))
        out[label] = lat
        q.clear()
    return out
