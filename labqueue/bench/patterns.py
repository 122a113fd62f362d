"""One small adapter per labqueue pattern: how the benchmark builds, fills and drains its queue.

A new pattern joins the benchmark by adding one `Pattern` to `patterns()`; the measurements in
`measure.py` only call these hooks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..retry import Backoff
from ..worker import Worker

Make = Callable[[Any, str, float], Any]


@dataclass(frozen=True)
class Pattern:
    """How to benchmark one queue class: build it, enqueue one / many, run a worker on it."""

    name: str
    make: Make  # (client, queue name, lease seconds) -> queue
    prefetch: int = 1  # jobs a worker thread claims per round trip
    leased: bool = False  # a killed worker's job comes back (lease + recovery)
    delayed: Callable[[Any, dict[str, Any], float], Any] | None = None  # (queue, data, delay s)
    scheduler: Callable[[Any], Callable[[], Any]] | None = None  # starts the promoter; returns stop
    worker: type = Worker  # the worker class run on it
    prototype: bool = False  # a core change measured before the core adopts it (prototypes.py)
    extras: bool = True  # also measure lateness and killed-worker re-delivery

    def enqueue(self, queue: Any, data: dict[str, Any]) -> Any:
        """One job, one call (the pattern's `enqueue`)."""
        return queue.enqueue(data)

    def enqueue_bulk(self, queue: Any, batch: Sequence[dict[str, Any]]) -> Any:
        """Many jobs in one call (the pattern's `enqueue_many`)."""
        return queue.enqueue_many(batch)

    def waiting(self, queue: Any) -> int:
        """Jobs not yet taken by a worker."""
        return int(queue.size())


def _simple(client: Any, name: str, lease: float) -> Any:
    from ..simple import SimpleQueue
    return SimpleQueue(client, name)


def _reliable(client: Any, name: str, lease: float) -> Any:
    from ..reliable import ReliableQueue
    return ReliableQueue(client, name, lease_seconds=lease, backoff=Backoff.fixed(0.05))


def _reliable_like(cls: type) -> Make:
    def make(client: Any, name: str, lease: float) -> Any:
        return cls(client, name, lease_seconds=lease, backoff=Backoff.fixed(0.05))
    return make


def _optional(module: str, cls: str) -> Make | None:
    """A maker for `labqueue.<module>.<cls>` when that module exists in this checkout."""
    try:
        klass = getattr(importlib.import_module(f"labqueue.{module}"), cls)
    except (ImportError, AttributeError):
        return None

    def make(client: Any, name: str, lease: float) -> Any:
        return klass(client, name)
    return make


def patterns(prefetch: int = 50, prototypes: bool = False) -> list[Pattern]:
    """Every pattern present in this checkout, in the order the lab teaches them (then prototypes)."""
    found = [Pattern("simple", _simple),
             Pattern("reliable prefetch 1", _reliable, prefetch=1, leased=True),
             Pattern(f"reliable prefetch {prefetch}", _reliable, prefetch=prefetch, leased=True, extras=False)]
    priority = _optional("priority", "PriorityQueue")
    if priority is not None:
        found.append(Pattern("priority", priority))
    delayed = _optional("delayed", "DelayedQueue")
    if delayed is not None:
        found.append(Pattern("delayed", delayed,
                             delayed=lambda q, data, delay: q.enqueue(data, delay_seconds=delay),
                             scheduler=lambda q: q.start_scheduler().stop))
    if prototypes:
        from . import prototypes as proto

        found += [
            Pattern("reliable prefetch 1 + precise waits + deadline recovery (prototype)",
                    _reliable_like(proto.PreciseWaitQueue), prefetch=1, leased=True,
                    worker=proto.DeadlineRecoveryWorker, prototype=True),
            Pattern(f"reliable prefetch {prefetch} + batched claim.lua (prototype)",
                    _reliable_like(proto.BatchedClaimQueue), prefetch=prefetch, leased=True, prototype=True,
                    extras=False)]
        if delayed is not None:
            found.append(Pattern("delayed + precise scheduler (prototype)", delayed,
                                 delayed=lambda q, data, delay: q.enqueue(data, delay_seconds=delay),
                                 scheduler=proto.precise_scheduler, prototype=True))
    return found
