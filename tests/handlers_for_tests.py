"""Handlers for the worker processes the reliability tests start (`--handlers tests.handlers_for_tests`).

Each execution is recorded in Redis before the handler returns (HINCRBY of the job id in the hash
EXECUTIONS, on the server of $LABQUEUE_TEST_LEDGER, else of $REDIS_URL), so a test counts lost and
duplicated jobs from Redis alone. The cluster failover test keeps that ledger on a separate plain
server, so a failover of the queue's master cannot lose the ledger's own entries.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from labqueue import Job, connect

EXECUTIONS = "lqtest:executions"
_client: Any = None


def ledger() -> Any:
    """This process's client to the ledger's server ($LABQUEUE_TEST_LEDGER, else $REDIS_URL)."""
    global _client
    if _client is None:
        _client = connect(os.environ.get("LABQUEUE_TEST_LEDGER") or os.environ["REDIS_URL"])
    return _client


def work(job: Job) -> None:
    """Sleep `data["ms"]` milliseconds (default 0), then record the execution (HINCRBY)."""
    time.sleep(float(job.data.get("ms", 0)) / 1000)
    ledger().hincrby(EXECUTIONS, job.id, 1)


def poison(job: Job) -> None:
    """Record the delivery, then SIGKILL this worker process: a job that kills whoever runs it."""
    ledger().hincrby(EXECUTIONS, job.id, 1)
    os.kill(os.getpid(), signal.SIGKILL)


def fail(job: Job) -> None:
    """Record the delivery, then raise: an ordinary failing job."""
    ledger().hincrby(EXECUTIONS, job.id, 1)
    raise RuntimeError("this job always fails")


HANDLERS = {"work": work, "poison": poison, "fail": fail}
