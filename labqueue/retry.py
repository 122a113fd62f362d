"""Backoff policies for retries: fixed, exponential, exponential with jitter, all with a cap.

A nacked job comes back at now + `Backoff.delay(attempt)` through the delayed set; without jitter,
every job that failed together retries together (the thundering herd the notebooks plot).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .checks import number
from .errors import ConfigError

MAX_DELAY = 365 * 86400.0  # an exponential policy without a cap stops growing at a year
KINDS = ("fixed", "exponential")
JITTERS = (None, "full", "equal")


@dataclass(frozen=True)
class Backoff:
    """How long to wait before delivery `attempt + 1` of a job that failed `attempt` times."""

    kind: str = "exponential"
    base: float = 1.0  # seconds: the fixed delay, or the first exponential one
    factor: float = 2.0
    cap: float | None = 300.0
    jitter: str | None = None  # None, "full" (uniform 0..d) or "equal" (d/2 + uniform 0..d/2)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown backoff type {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.jitter not in JITTERS:
            raise ConfigError(f"unknown jitter {self.jitter!r}: use None, 'full' or 'equal'")
        for name in ("base", "factor"):
            number(f"backoff {name}", getattr(self, name))
        if self.cap is not None:
            try:
                number("backoff cap", self.cap)
            except ConfigError:
                raise ConfigError(f"backoff cap must be a finite number >= 0 or None, got {self.cap!r}") from None

    @classmethod
    def fixed(cls, delay: float) -> Backoff:
        return cls("fixed", base=delay, cap=None)

    @classmethod
    def exponential(cls, base: float = 1.0, *, factor: float = 2.0, cap: float | None = 300.0,
                    jitter: str | None = None) -> Backoff:
        return cls("exponential", base=base, factor=factor, cap=cap, jitter=jitter)

    @classmethod
    def from_spec(cls, spec: Any) -> Backoff:
        """A policy from a BullMQ-style option: a number of seconds, or {"type": ..., "delay": s}."""
        if isinstance(spec, Backoff):
            return spec
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            return cls.fixed(float(spec))
        if isinstance(spec, dict):
            kind = spec.get("type", "fixed")
            unknown = set(spec) - {"type", "delay", "factor", "cap", "jitter"}
            if unknown:
                raise ConfigError(f"unknown backoff option(s) {sorted(unknown)}")
            if kind not in KINDS:
                raise ConfigError(f"unknown backoff type {kind!r}: use one of {', '.join(KINDS)}")
            cap = spec.get("cap", None if kind == "fixed" else 300.0)
            return cls(kind, base=spec.get("delay", 1.0), factor=spec.get("factor", 2.0), cap=cap,
                       jitter=spec.get("jitter"))
        raise ConfigError(f"backoff must be a number of seconds or a dict with a 'type', got {spec!r}")

    def spec(self) -> dict[str, Any]:
        """This policy as a JSON-able option that `from_spec` turns back into an equal policy."""
        return {"type": self.kind, "delay": self.base, "factor": self.factor, "cap": self.cap,
                "jitter": self.jitter}

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed delivery number `attempt` (1 for the first failure)."""
        n = max(attempt, 1)
        limit = self.cap if self.cap is not None else MAX_DELAY
        if self.kind == "fixed" or self.base == 0:
            d = float(self.base)
        else:
            try:  # float powers: a huge attempt overflows at once instead of building a huge int
                d = self.base * float(self.factor) ** (n - 1)
            except OverflowError:
                d = math.inf
        d = min(d, limit)
        if self.jitter is None:
            return d
        u = (rng or random).random()
        return d * u if self.jitter == "full" else d / 2 + d / 2 * u
