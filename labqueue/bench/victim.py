"""A worker process for the kill test: takes one job, marks it held in Redis, then waits to be SIGKILLed.

Usage (by measure.redelivery_killed_process):
python -m labqueue.bench.victim URL QUEUE LEASE MARKER [reliable|jobqueue]
`reliable` runs a `Worker` on a `ReliableQueue`; `jobqueue` runs `JobQueue.process` (the production queue).
"""

from __future__ import annotations

import sys
import threading
import time

from ..connection import connect


def main(url: str, name: str, lease: float, marker: str, kind: str = "reliable") -> None:
    client = connect(url, decode_responses=False)

    def hold(job: object) -> None:
        client.set(marker, "1")  # SET: tell the benchmark the job is in hand
        time.sleep(3600)  # until SIGKILL

    if kind == "jobqueue":
        from ..jobqueue import JobQueue

        JobQueue(client, name, lease_seconds=lease).process("default", hold, poll_seconds=0.1)
        threading.Event().wait()  # the worker's threads run until SIGKILL
    elif kind == "reliable":
        from ..reliable import ReliableQueue
        from ..worker import Worker

        Worker(ReliableQueue(client, name, lease_seconds=lease), {"default": hold}, concurrency=1,
               poll_seconds=0.1).run()
    else:
        raise SystemExit(f"unknown worker kind {kind!r}: use reliable or jobqueue")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], *sys.argv[5:6])
