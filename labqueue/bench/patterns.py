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

Make = Callable[[Any, str, float], Any]


@dataclass(frozen=True)
class Pattern:
    """How to benchmark one queue class: build it, enqueue one / many, run a worker on it."""

    name: str
    make: Make  # (client, queue name, lease seconds) -> queue
    prefetch: int = 1  # jobs a worker thread claims per round trip
    leased: bool = False  # a killed worker's job comes back (lease + recovery)
    delayed: Callable[[Any, dict[str, Any], float], Any] | None = None  # (queue, data, run_at)
    scheduler: Callable[[Any], Any] | None = None  # starts whatever promotes due jobs; returns stop()

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


def _optional(module: str, cls: str) -> Make | None:
    """A maker for `labqueue.<module>.<cls>` when that module exists in this checkout."""
    try:
        klass = getattr(importlib.import_module(f"labqueue.{module}"), cls)
    except (ImportError, AttributeError):
        return None

    def make(client: Any, name: str, lease: float) -> Any:
        return klass(client, name)
    return make


def patterns(prefetch: int = 50) -> list[Pattern]:
    """Every pattern present in this checkout, in the order the lab teaches them."""
    found = [Pattern("simple", _simple),
             Pattern("reliable prefetch 1", _reliable, prefetch=1, leased=True),
             Pattern(f"reliable prefetch {prefetch}", _reliable, prefetch=prefetch, leased=True)]
    priority = _optional("priority", "PriorityQueue")
    if priority is not None:
        found.append(Pattern("priority", priority))
    return found
