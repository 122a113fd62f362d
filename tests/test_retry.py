"""Backoff policies."""

from __future__ import annotations

import math
import random

import pytest

from labqueue import Backoff, ConfigError


def test_fixed():
    """A fixed backoff waits the same time after every failure."""
    assert [Backoff.fixed(2).delay(n) for n in (1, 2, 5)] == [2, 2, 2]


def test_exponential_with_cap():
    """Exponential doubles from the base and stops at the cap."""
    b = Backoff.exponential(1, cap=5)
    assert [b.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize("jitter,low", [("full", 0.0), ("equal", 0.5)])
def test_jitter_stays_in_range_and_spreads(jitter, low):
    """Jittered delays stay within [low*d, d] and differ from each other."""
    b = Backoff.exponential(1, jitter=jitter)
    rng = random.Random(7)
    delays = [b.delay(3, rng) for _ in range(200)]
    assert all(low * 4 <= d <= 4 for d in delays) and len(set(delays)) > 150


def test_from_spec_bullmq_style():
    """BullMQ-style specs map to policies."""
    assert Backoff.from_spec({"type": "exponential", "delay": 2}).delay(3) == 8
    assert Backoff.from_spec(3).delay(9) == 3


@pytest.mark.parametrize("spec,message", [
    ({"type": "linear"}, "unknown backoff type 'linear'"),
    ({"type": "fixed", "delai": 1}, "unknown backoff option"),
    ("fast", "backoff must be a number"),
    ({"type": "fixed", "delay": -1}, "base must be a finite number >= 0"),
])
def test_bad_specs(spec, message):
    """Unknown types, options and negative delays are refused by name."""
    with pytest.raises(ConfigError, match=message):
        Backoff.from_spec(spec)


def test_a_capped_exponential_never_overflows():
    """Backoff.exponential(1, cap=60).delay(1100) is the cap, not an OverflowError; uncapped stays finite."""
    assert Backoff.exponential(1, cap=60).delay(1100) == 60
    assert Backoff.exponential(1, cap=60, jitter="full").delay(10**6, random.Random(1)) <= 60
    uncapped = Backoff.exponential(1, cap=None).delay(5000)
    assert math.isfinite(uncapped) and uncapped == Backoff.exponential(1, cap=None).delay(6000)


@pytest.mark.parametrize("spec,message", [
    (math.nan, "base must be a finite number >= 0, got nan"),
    (math.inf, "base must be a finite number >= 0, got inf"),
    ({"type": "exponential", "delay": 1, "cap": math.inf}, "cap must be a finite number >= 0 or None, got inf"),
    ({"type": "exponential", "delay": 1, "factor": math.nan}, "factor must be a finite number >= 0, got nan"),
])
def test_non_finite_specs_are_refused(spec, message):
    """NaN and infinite delays, factors and caps are refused by name and value."""
    with pytest.raises(ConfigError, match=message):
        Backoff.from_spec(spec)
