"""A worker process for the kill test: takes one job, marks it held in Redis, then waits to be SIGKILLed.

Usage (by measure.redelivery_killed_process): python -m labqueue.bench.victim URL QUEUE LEASE MARKER
"""

from __future__ import annotations

import sys
import time

from ..connection import connect
from ..reliable import ReliableQueue
from ..worker import Worker


def main(url: str, name: str, lease: float, marker: str) -> None:
    client = connect(url, decode_responses=False)
    queue = ReliableQueue(client, name, lease_seconds=lease)

    def hold(job: object) -> None:
        client.set(marker, "1")  # SET: tell the benchmark the job is in hand
        time.sleep(3600)  # until SIGKILL

    Worker(queue, {"default": hold}, concurrency=1, poll_seconds=0.1).run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
