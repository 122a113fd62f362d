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
from labqueue.localcluster import LocalCluster
from labqueue.server import RedisServer
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
    failovers = 0
    for k in range(FAILOVERS):
        time.sleep(0.8)
        master = cluster.master_of(queues[k % QUEUES].keys.waiting)  # asked of the cluster, not a cache
        cluster.failover(master)  # SIGKILL, TAKEOVER on its replica, restart: it rejoins as a replica
        failovers += 1
    producer.join(120)
    assert not producer.is_alive(), "the producer did not finish within 120 s"

    def drained() -> bool:
        try:
            return all(sum(q.counts().values()) == 0 for q in queues)
        except (redis.RedisError, *LOST_NODE):
            return False

    wait_until(drained, 120, "every queue to be drained")
    codes = [code for pool in workers for code in pool.stop()]
    ledger_client = redis.Redis.from_url(ledger.url, decode_responses=True)
    lost, duplicated = tally(ledger_client, producer.acked)
    executions = sum(int(v) for v in ledger_client.hgetall(EXECUTIONS).values())
    reconnects = sum(pool.logs().count("reconnected to Redis") for pool in workers)
    dead = sum(q.dlq_size() for q in queues)
    print(f"\ncluster failover run (durable={durable}): jobs {len(producer.acked)}, failovers {failovers}, "
          f"lost {lost}, duplicated {duplicated}, executions {executions}, dead-lettered {dead}, "
          f"worker reconnects {reconnects}, enqueue retries {producer.retries}, "
          f"not replicated in time {producer.not_replicated}, {time.monotonic() - start:.1f} s")
    assert len(producer.acked) == JOBS and failovers == FAILOVERS
    assert reconnects >= 1, "no worker logged a reconnection: the failovers did not reach them"
    assert codes == [0] * QUEUES, f"every worker stops cleanly on SIGTERM after the failovers: {codes}"
    if durable:
        assert lost == 0, f"{lost} durably enqueued job(s) lost over {failovers} failovers"
        assert dead == 0
