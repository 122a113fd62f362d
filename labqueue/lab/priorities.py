"""Notebook 03 helpers: dequeue order, FIFO among equal priorities, starvation under load.

Redis structures: the PriorityQueue's sorted set `lq:{name}:priority` (score = priority * 2**32 +
arrival number, labqueue.priority_score; ZCOUNT over a score band counts the jobs waiting at one
priority), and, for the chapter's variant, a plain sorted set scored by priority alone with job ids
as members (ZADD, ZPOPMIN), where Redis breaks ties by comparing the members byte by byte.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..job import Job
from ..priority import PriorityQueue
from ..priority_score import band, score
from .driven import Driven, Feed
from .experiments import Producer, WorkerPool
from .i18n import N_, _
from .live import Sampler


CHAPTER_DIAGRAM = """\
Redis ZSET (Sorted Set):
- Members: job_id
- Score: priority (lower = higher priority)

Example:
ZADD queue:priority 1 job_urgent     (priority 1 = highest)
ZADD queue:priority 5 job_normal
ZADD queue:priority 10 job_low

queue:priority (sorted by score):
┌─────────────────────────────────┐
│ Score  │  Member                │
├─────────────────────────────────┤
│   1    │  job_urgent     ← Pop  │
│   5    │  job_normal            │
│  10    │  job_low               │
└─────────────────────────────────┘

Operations:
ZADD queue:priority priority job_id  → Add job
ZPOPMIN queue:priority              → Get highest priority
ZRANGE queue:priority 0 -1          → List all jobs
"""  # the chapter, section "Pattern 3: Priority Queue"


def score_of(priority: int, seq: int) -> int:
    """The score priority_push.lua gives the `seq`-th job enqueued (1-based) at `priority`."""
    return score(priority, seq)


def waiting_by_priority(q: PriorityQueue, priorities: list[int]) -> dict[int, int]:
    """Jobs waiting at each priority, in one round trip (ZCOUNT per score band, pipelined)."""
    pipe = q.redis.pipeline(transaction=False)
    for p in priorities:
        pipe.zcount(q.keys.priority, *band(p))
    return {p: int(n) for p, n in zip(priorities, pipe.execute())}


def drain(q: PriorityQueue) -> list[Job]:
    """Pop every waiting job in delivery order (ZPOPMIN until empty)."""
    jobs = []
    while (job := q.dequeue()) is not None:
        jobs.append(job)
    return jobs


def chapter_tie_order(r: Any, key: str, n: int, priority: int = 5, seed: int = 0) -> list[int]:
    """The chapter's way (ZADD key priority job_id, then ZPOPMIN): arrival numbers in pop order.

    Job ids are uuid4 strings drawn from a seeded generator; equal scores pop in member order, so
    jobs of one priority come out in the order of their random ids, not their arrival order.
    """
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
    r.delete(key)
    for job_id in ids:
        r.zadd(key, {job_id: priority})
    popped = [member for member, _ in r.zpopmin(key, n)]
    position = {job_id: i for i, job_id in enumerate(ids)}
    return [position[m.decode() if isinstance(m, bytes) else m] for m in popped]


@dataclass
class Served:
    """One job a worker took: its priority, when it was enqueued and when it started."""

    priority: int
    enqueued_at: float
    served_at: float


class StarvationExperiment(Driven):
    """Low-priority jobs wait while a steady high-priority load keeps the workers busy.

    `low_jobs` LOW jobs are enqueued first, then a backlog of HIGH jobs; a producer adds HIGH jobs
    at `high_rate` per second for `load_seconds`, faster than `workers` workers spending
    `job_seconds` per job can serve them. Then the load stops and the queue drains.
    """

    def __init__(self, q: PriorityQueue, *, low_jobs: int = 20, high_backlog: int = 40,
                 high_rate: float = 150.0, workers: int = 2, job_seconds: float = 0.02,
                 load_seconds: float = 2.0, live: bool = True) -> None:
        super().__init__()
        self.q = q
        self.low_jobs, self.high_backlog, self.job_seconds = low_jobs, high_backlog, job_seconds
        self.served: list[Served] = []
        self.low_waiting_when_load_ended: int | None = None
        self.load_ended_at: float | None = None
        self._lock = threading.Lock()
        high = Feed(lambda data, job_id: q.enqueue(data, priority=q.PRIORITY_HIGH, job_id=job_id))
        self.producer = Producer(high, int(high_rate * load_seconds), high_rate, prefix="high")
        self.pool = WorkerPool(q, {"work": self._handle}, workers, poll_seconds=0.1)
        self.total = low_jobs + high_backlog + self.producer.jobs
        # probe and counter names stay English (code reads them); the chart and the panel translate them
        self.sampler = Sampler({N_("HIGH waiting"): lambda: self._waiting(q.PRIORITY_HIGH),
                                N_("LOW waiting"): lambda: self._waiting(q.PRIORITY_LOW),
                                N_("LOW served"): lambda: self.served_count(q.PRIORITY_LOW)},
                               title=_("steady HIGH load, then none"), live=live)

    def _waiting(self, priority: int) -> int:
        return waiting_by_priority(self.q, [priority])[priority]

    def setup(self) -> None:
        q = self.q
        q.enqueue_many(({"type": "work", "n": i} for i in range(self.low_jobs)), priority=q.PRIORITY_LOW)
        q.enqueue_many(({"type": "work", "n": i} for i in range(self.high_backlog)), priority=q.PRIORITY_HIGH)

    def _handle(self, job: Job) -> None:
        with self._lock:
            self.served.append(Served(int(job.priority or 0), job.enqueued_at, time.time()))
        time.sleep(self.job_seconds)

    def on_tick(self) -> None:
        if self.load_ended_at is None and self.producer.done:
            self.low_waiting_when_load_ended = self._waiting(self.q.PRIORITY_LOW)
            self.load_ended_at = time.time()
            if self.sampler is not None:
                self.sampler.mark(N_("load stops"))

    def served_count(self, priority: int) -> int:
        with self._lock:
            return sum(1 for s in self.served if s.priority == priority)

    def progress(self) -> dict[str, int]:
        with self._lock:
            n = len(self.served)
        return {"completed": n, N_("LOW served"): self.served_count(self.q.PRIORITY_LOW)}

    def done(self) -> bool:
        """The load has ended, the queue is empty and no worker holds a job."""
        return self.load_ended_at is not None and self.q.size() == 0 and not self.pool.busy()

    def low_waits(self) -> list[float]:
        """Seconds each low-priority job waited before a worker took it."""
        with self._lock:
            return [s.served_at - s.enqueued_at for s in self.served if s.priority == self.q.PRIORITY_LOW]


def order_figure(jobs: list[Job]) -> Any:
    """Scatter of dequeue position against priority, coloured by arrival number (matplotlib Figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    points = ax.scatter(range(len(jobs)), [j.priority for j in jobs], c=[j.data["i"] for j in jobs],
                        cmap="viridis", s=25)
    fig.colorbar(points, ax=ax, label=_("arrival number"))
    ax.set_xlabel(_("dequeue position"))
    ax.set_ylabel(_("priority (1 = high)"))
    ax.invert_yaxis()
    ax.set_title(_("ZPOPMIN order: priority first, then arrival"))
    fig.tight_layout()
    return fig


def ties_figure(orders: dict[str, list[int]]) -> Any:
    """Arrival number against dequeue position for jobs of one priority, one line per variant."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    for label, order in orders.items():
        ax.plot(range(len(order)), order, marker="o", label=label)
    ax.set_xlabel(_("dequeue position"))
    ax.set_ylabel(_("arrival number"))
    ax.set_title(_("equal priorities: who comes out first?"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
