"""Checks of notebook 06: the student's backoff function (exponential, cap, full jitter), the Bull policy."""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..i18n import Number, _
from . import NotDone, fail, guard, need, passed
SAMPLES = 400


@guard
def my_backoff(r: Any, namespace: Mapping[str, Any]) -> str:
    """Bounds of every attempt (0 ≤ wait ≤ min(cap, base·2^(n−1))), growth, spread over the whole range;
    then the herd of notebook 06: 200 jobs failing together, how many retry in one 100 ms window."""
    (backoff,) = need(namespace, _("Build it yourself: a backoff with full jitter"), "my_backoff")
    from ..retries import peak

    for base, cap in [(0.5, 30.0), (0.1, 5.0)]:
        for attempt in range(1, 13):
            bound = min(cap, base * 2 ** (attempt - 1))
            waits = [backoff(attempt, base=base, cap=cap) for _n in range(SAMPLES)]
            if any(w is None for w in waits):
                raise NotDone(_("my_backoff returns None: return the number of seconds to wait."))
            if not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in waits):
                raise fail(_("my_backoff({attempt}) returned {got!r}, not a number of seconds.")
                           .format(attempt=attempt, got=waits[0]))
            low, high = min(waits), max(waits)
            where = _("attempt {attempt} (base {base} s, cap {cap} s)").format(attempt=attempt, base=Number(base), cap=Number(cap))
            if low < 0:
                raise fail(_("{where} waited {low:.3g} s: a wait is never negative.").format(where=where, low=Number(low)))
            if high > bound + 1e-9:
                why = (_("the cap is the longest wait: take min(cap, …) before drawing the jitter") if bound == cap else
                       _("the first retry waits at most base and each later one doubles it, so attempt {attempt} "
                         "waits at most {bound:g} s").format(attempt=attempt, bound=Number(bound)))
                raise fail(_("{where} waited {high:.3g} s, more than {bound:g} s: {why}.")
                           .format(where=where, high=Number(high), bound=Number(bound), why=why))
            if high - low < 1e-9:
                raise fail(_("{where} always waits {high:.3g} s: without jitter, jobs that failed together retry "
                             "together (the thundering herd); draw the wait uniformly between 0 and the delay.")
                           .format(where=where, high=Number(high)))
            if high < 0.8 * bound:
                raise fail(_("{where} never waited more than {high:.3g} s, far below its delay of {bound:g} s: the "
                             "delay is base·2^(attempt−1) (capped), and full jitter draws up to it.")
                           .format(where=where, high=Number(high), bound=Number(bound)))
            if low > 0.3 * bound:
                raise fail(_("{where} never waited less than {low:.3g} s of its {bound:g} s delay: that is not full "
                             "jitter, which draws uniformly from 0 to the delay (equal jitter starts at half).")
                           .format(where=where, low=Number(low), bound=Number(bound)))
            mean = sum(waits) / len(waits)
            if not 0.4 * bound <= mean <= 0.6 * bound:
                raise fail(_("{where} waits {mean:.3g} s on average, not about half of its {bound:g} s delay: draw "
                             "uniformly (random.uniform(0, delay)).").format(where=where, mean=Number(mean), bound=Number(bound)))
    herd = [backoff(1, base=1.0, cap=30.0) for _n in range(200)]
    worst = peak(herd, 0.1)
    if worst > 60:
        raise fail(_("200 jobs that failed together: {worst} of them retry within the same 100 ms; spread them over "
                     "the whole delay (full jitter).").format(worst=worst))
    return passed(_("my_backoff stays within [0, min(cap, base·2^(n−1))] for attempts 1 to 12, doubles, is capped "
                    "and spreads uniformly; 200 jobs failing together retry at most {worst} per 100 ms (200 without "
                    "jitter).").format(worst=worst))


@guard
def bull_policy(r: Any, namespace: Mapping[str, Any]) -> str:
    """The chapter's Bull backoff rebuilt with Backoff.from_spec, and the total wait before the last attempt."""
    my_policy, my_total_wait = need(namespace, _("Exercise"), "my_policy", "my_total_wait")
    if my_policy is None:
        raise NotDone(_("build the policy in `my_policy` with lq.Backoff.from_spec, run its cell, then this check."))
    from ...retry import Backoff
    from ..retries import total_wait

    if not isinstance(my_policy, Backoff):
        raise fail(_("my_policy is a {kind}, not a Backoff: use lq.Backoff.from_spec({{...}}).")
                   .format(kind=type(my_policy).__name__))
    if my_policy.kind != "exponential" or my_policy.base != 2.0:
        raise fail(_("my_policy is {policy}: the chapter's is exponential with a delay of 2000 ms, and labqueue "
                     "counts in seconds.").format(policy=my_policy))
    if my_policy.jitter is not None:
        raise fail(_("my_policy draws its waits with jitter ({jitter!r}): the chapter's option has none (its waits "
                     "are exact); leave jitter out.").format(jitter=my_policy.jitter))
    first, second = my_policy.delay(1), my_policy.delay(2)
    if (first, second) != (2.0, 4.0):
        raise fail(_("my_policy waits {first:g} s after the first failure and {second:g} s after the second: the "
                     "chapter's exponential option doubles the wait each time (BullMQ's delay·2^(n−1)); leave "
                     "factor and cap at their defaults.").format(first=Number(first), second=Number(second)))
    if my_total_wait is None:
        raise NotDone(_("the policy is right; now put in `my_total_wait` the seconds of backoff before the third "
                        "attempt."))
    if isinstance(my_total_wait, bool) or not isinstance(my_total_wait, (int, float)) or \
            not math.isfinite(my_total_wait):
        raise fail(_("my_total_wait is {said!r}, not a number of seconds.").format(said=my_total_wait))
    expected = total_wait(Backoff.from_spec({"type": "exponential", "delay": 2.0}), 3)  # the chapter's, not the student's
    if abs(my_total_wait - expected) > 1e-9:
        raise fail(_("{said} s is not it: add the wait after the first failure to the wait after the second "
                     "(my_policy.delay(n) is the wait after failed attempt n).").format(said=my_total_wait))
    return passed(_("correct: {wait:g} s of backoff before the third attempt with labqueue's exponential policy.")
                  .format(wait=Number(expected)))
