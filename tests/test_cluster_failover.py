"""Failovers under load: worker processes (`python -m labqueue worker --pattern reliable`) drain jobs from
queues on every master of the local cluster while, five times, a master is SIGKILLed, its replica takes
over (CLUSTER FAILOVER TAKEOVER) and the old master comes back as a replica.

Executions are counted in a ledger on a separate plain redis-server (tests/handlers_for_tests.py), so a
failover cannot lose the ledger's own entries. With `durable=True` the producer's enqueue returns only
once a replica has the job, and no job may be lost; without it, Redis' asynchronous replication can
lose an acknowledged job at each failover: the test measures and prints that loss, it does not assert it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

import labqueue as lq
from labqueue.cluster import LOST_NODE, NotReplicated, node_name
from labqueue.lab.localcluster import LocalCluster
from labqueue.lab.server import RedisServer
from tests.handlers_for_tests import EXECUTIONS
from tests.test_reliability import WorkerPool, pools, tally, wait_until  # noqa: F401 (pools: fixture)

QUEUES = 6  # two per master
JOBS = 3000
FAILOVERS = 5


def spread_queue_names(client: Any, masters: list[str]) -> list[str]:
    """QUEUES queue names, two on each master (found by their hash slot)."""
    per: dict[str, list[str]] = {m: [] for m in masters}
    i = 0
    while any(len(v) < QUEUES // len(masters) for v in per.values()):
        name = f"fo{i}"
        home = node_name(client, lq.ReliableQueue(client, name).keys.waiting)
        if len(per[home]) < QUEUES // len(masters):
            per[home].append(name)
        i += 1
    return [name for names in per.values() for name in names]


class Producer(threading.Thread):
    """Enqueues JOBS jobs round-robin over the queues, paced so that failovers happen meanwhile.

    A job counts as sent once enqueue returned; an error (a failover under way, or NotReplicated
    with durable=True) means "not acknowledged": the same job id is sent again (at worst a duplicate).
    """

    def __init__(self, queues: list[lq.ReliableQueue], pace: float) -> None:
        super().__init__(daemon=True)
        self.queues, self.pace = queues, pace
        self.acked: list[str] = []
        self.retries = 0
        self.not_replicated = 0

    def run(self) -> None:
        for i in range(JOBS):
            q = self.queues[i % len(self.queues)]
            job_id = f"{q.name}-{i}"
            while True:
                try:
                    q.enqueue({"type": "work", "i": i}, job_id=job_id)
                    break
                except NotReplicated:
                    self.not_replicated += 1
                except LOST_NODE:
                    self.retries += 1
                time.sleep(0.02)
            self.acked.append(job_id)
            time.sleep(self.pace)


@pytest.fixture
def ledger() -> Any:
    """A plain redis-server of its own for the execution ledger."""
    with RedisServer() as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not-durable"])
def test_workers_carry_on_through_five_failovers(durable: bool, redis_cluster: LocalCluster, ledger: RedisServer,
                                                 pools: Callable[..., WorkerPool], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs on every master, 5 master failovers: workers reconnect alone; with durable=True nothing is lost."""
    cluster = redis_cluster
    if cluster.disturbed:
        cluster.wait_ok()
    cluster.flushall()
    monkeypatch.setenv("LABQUEUE_TEST_LEDGER", ledger.url)
    client = lq.connect(cluster.url)
    names = spread_queue_names(client, cluster.masters())
    queues = [lq.ReliableQueue(client, n, durable=durable, durable_timeout=0.5) for n in names]
    workers = [pools(cluster.url, n, tmp_path, concurrency=2, size=1,
                     extra=("--lease", "1", "--prefetch", "10", "--max-attempts", "50")) for n in names]
    producer = Producer(queues, pace=0.004)
    start = time.monotonic()
    producer.start()
    failovers, done_at_failover = 0, []
    ledger_client = redis.Redis.from_url(ledger.url, decode_responses=True)
    wait_until(lambda: ledger_client.hlen(EXECUTIONS) >= 50, 60, "the workers to start processing")
    for k in range(FAILOVERS):
        time.sleep(0.8)
        master = cluster.master_of(queues[k % QUEUES].keys.waiting)  # asked of the cluster, not a cache
        done_at_failover.append(ledger_client.hlen(EXECUTIONS))
        cluster.failover(master)  # SIGKILL, TAKEOVER on its replica, restart: it rejoins as a replica
        failovers += 1
    producer.join(120)
    assert not producer.is_alive(), "the producer did not finish within 120 s"
    counts: dict[str, Any] = {}

    def drained() -> bool:
        try:  # a fresh client each time: nothing cached from before the failovers
            fresh = lq.connect(cluster.url)
            counts.update({n: lq.ReliableQueue(fresh, n).counts() for n in names})
            fresh.close()
        except (redis.RedisError, *LOST_NODE) as exc:
            counts["error"] = repr(exc)
            return False
        return all(sum(c.values()) == 0 for n, c in counts.items() if n != "error")

    try:
        wait_until(drained, 120, "every queue to be drained")
    except BaseException:
        print("counts:", counts, "\nworker logs:\n", "\n".join(pool.logs()[-3000:] for pool in workers))
        raise
    codes = [code for pool in workers for code in pool.stop()]
    lost, duplicated = tally(ledger_client, producer.acked)
    executions = sum(int(v) for v in ledger_client.hgetall(EXECUTIONS).values())
    reconnects = sum(pool.logs().count("reconnected to Redis") for pool in workers)
    after = lq.connect(cluster.url)
    dead = sum(lq.ReliableQueue(after, n).dlq_size() for n in names)
    after.close()
    print(f"\ncluster failover run (durable={durable}): jobs {len(producer.acked)}, failovers {failovers}, "
          f"lost {lost}, duplicated {duplicated}, executions {executions}, dead-lettered {dead}, "
          f"worker reconnects {reconnects}, enqueue retries {producer.retries}, "
          f"not replicated in time {producer.not_replicated}, jobs done at each failover {done_at_failover}, "
          f"{time.monotonic() - start:.1f} s")
    assert len(producer.acked) == JOBS and failovers == FAILOVERS
    assert 0 < done_at_failover[0] and done_at_failover[-1] < JOBS, \
        f"every failover happened while the workers were draining: {done_at_failover}"
    assert codes == [0] * QUEUES, f"every worker stops cleanly on SIGTERM after the failovers: {codes}"
    if durable:
        assert lost == 0, f"{lost} durably enqueued job(s) lost over {failovers} failovers"
        assert dead == 0
