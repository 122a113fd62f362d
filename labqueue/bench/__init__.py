"""The benchmark of issue 6: labqueue's patterns against raw redis-py loops (and RQ / BullMQ).

`python -m labqueue.bench` measures, in one run against one server, enqueue rates (one by one and
bulk), end-to-end processing rates of one worker process, Redis bytes per waiting job, delayed-job
lateness and the time to re-deliver a killed worker's job, and prints each figure as a ratio to the
raw redis-py baseline measured in the same run. Nothing here is imported by `import labqueue`.
"""

from __future__ import annotations

from .run import run

__all__ = ["run"]
