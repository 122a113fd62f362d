"""Notebook 06 helpers: backoff policies, the thundering herd, a flaky email sender, the DLQ.

Redis structures: the ReliableQueue's `delayed` sorted set (serialised job -> retry time; its
scores are the herd), `waiting`/`processing` lists and the dead-letter hashes `dlq`/`dlq:meta`
(read with HGETALL through `dead_letters()`). Failures are decided per (address, n-th try of it) by
a seeded hash, so a run's outcome does not depend on thread scheduling.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..job import Job
from ..reliable import ReliableQueue
from ..retry import Backoff
from .driven import Driven
from .experiments import Producer, WorkerPool
from .frames import labelled
from .i18n import N_, _, number, translate
from .live import Sampler


# The chapter's retry diagram (its own words), the lab's comment (in the language in use), the chapter's nack:
# `CHAPTER_NACK` (module __getattr__ below) puts them together when a notebook shows it.
_CHAPTER_RETRY = """\
Scénario : Email sending avec failures

Direct send → SMTP timeout → Lost ❌
Queue send → Failed → Retry (3 attempts) → Success ✅

"""
_NACK_COMMENT = N_("the chapter's nack (no backoff: the job is back at once)")
_CHAPTER_NACK_CODE = """\
job_json_old = json.dumps(job)
self.redis.lrem(self.processing_name, 1, job_json_old)
if requeue and job['attempts'] < job['max_attempts']:
    job['attempts'] += 1
    self.redis.lpush(self.queue_name, json.dumps(job))
else:
    self._move_to_dlq(job)     # LPUSH queue:dlq
"""


def delays(policy: Backoff, attempts: int = 8, samples: int = 1, seed: int = 0) -> list[tuple[int, float]]:
    """(attempt, seconds) pairs: `samples` draws of the policy's delay after each failed attempt."""
    rng = random.Random(seed)
    return [(a, policy.delay(a, rng)) for a in range(1, attempts + 1) for _ in range(samples)]


def delay_table(policies: dict[str, Backoff], attempts: int = 6) -> Any:
    """A pandas DataFrame: one row per policy, the delay after each failure (jitter: its range)."""
    import pandas as pd

    rows = {}
    for name, policy in policies.items():
        row = {}
        for a in range(1, attempts + 1):
            if policy.jitter is None:
                row[_("after #{n}").format(n=a)] = number(policy.delay(a), ".2f")
            else:
                full = Backoff(policy.kind, policy.base, policy.factor, policy.cap, None).delay(a)
                low = 0.0 if policy.jitter == "full" else full / 2
                row[_("after #{n}").format(n=a)] = f"{number(low, '.2f')}–{number(full, '.2f')}"
        rows[name] = row
    return pd.DataFrame(rows).T


def fail_together(q: ReliableQueue, jobs: int, error: str = "ConnectionError: service down",
                  seed: int = 0) -> float:
    """An outage: `jobs` jobs are delivered and all fail at once; returns the moment they failed.

    Each retry is due at the failure time plus the queue's backoff drawn from a seeded generator
    (claim.lua, nack.lua), so the `delayed` sorted set holds the retry times as the policy spreads them.
    """
    rng = random.Random(seed)
    q.enqueue_many({"type": "call_api", "n": i} for i in range(jobs))
    held: list[Job] = []
    while len(held) < jobs:
        got, _ = q.claim(jobs - len(held))
        if not got:
            break
        held.extend(got)
    failed_at = time.time()
    for job in held:  # each retry is due `delay` after the common failure, however long nacking takes
        wait = failed_at + q.backoff.delay(job.attempts, rng) - time.time()
        q.nack(job, error, delay=max(wait, 0.0))
    return failed_at


def retry_offsets(q: ReliableQueue, since: float) -> list[float]:
    """Seconds after `since` at which each delayed retry is due (ZRANGE delayed 0 -1 WITHSCORES)."""
    return [score - since for _, score in q.redis.zrange(q.keys.delayed, 0, -1, withscores=True)]


def peak(offsets: list[float], bucket: float = 0.1) -> int:
    """The most retries due within any `bucket`-second window (what the downstream must absorb).

    The window slides: retries due at 0.9999 s and 1.0001 s are in one window, not split by a
    bucket boundary (fixed buckets made the count depend on a millisecond of timing)."""
    ordered = sorted(offsets)
    best, start = 0, 0
    for end, due in enumerate(ordered):
        while due - ordered[start] >= bucket:
            start += 1
        best = max(best, end - start + 1)
    return best


def flips(seed: int, address: str, attempt: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, address, attempt): the same on every run."""
    digest = hashlib.sha256(f"{seed}:{address}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class FlakyMailer:
    """The chapter's sendEmail: `failure_rate` SMTP timeouts, and mailboxes that always bounce (the
    simulated errors' messages in the lab's language: the DLQ's reasons the student reads)."""

    failure_rate: float = 0.1
    bouncing: set[str] = field(default_factory=set)
    seed: int = 0
    sent: list[str] = field(default_factory=list)
    tries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, job: Job) -> None:
        """Handler of `send_email` jobs: raise like an SMTP client would, or record the email sent."""
        to = job.data["to"]
        with self._lock:
            self.tries[to] += 1
            n = self.tries[to]
        if to in self.bouncing:
            raise ConnectionRefusedError(_("550 mailbox unavailable: {to}").format(to=to))
        if flips(self.seed, to, n) < self.failure_rate:
            raise TimeoutError(_("SMTP timeout"))
        with self._lock:
            self.sent.append(to)

    def fix(self, *addresses: str) -> None:
        """The mailboxes work again (all of them when none named)."""
        if addresses:
            self.bouncing.difference_update(addresses)
        else:
            self.bouncing.clear()

    def expected_dead(self, addresses: list[str], max_attempts: int) -> set[str]:
        """Addresses a first run dead-letters: bouncing ones, and those unlucky on every attempt."""
        return {a for a in addresses if a in self.bouncing
                or all(flips(self.seed, a, n) < self.failure_rate for n in range(1, max_attempts + 1))}


def addresses(n: int, bounce_every: int = 0) -> list[str]:
    """`n` recipient addresses; every `bounce_every`-th one is a bouncing mailbox."""
    return [f"bounce{i}@example.com" if bounce_every and i % bounce_every == bounce_every - 1
            else f"user{i}@example.com" for i in range(n)]


class EmailExperiment(Driven):
    """A producer sends to the `to` addresses at `rate` per second; workers send the emails."""

    def __init__(self, q: ReliableQueue, mailer: FlakyMailer, to: list[str], *, rate: float = 80.0,
                 workers: int = 4, crash_probability: float = 0.0, live: bool = True) -> None:
        super().__init__()
        self.q, self.mailer, self.to = q, mailer, to
        self.producer = Producer(q, len(to), rate, job_type="send_email", prefix="email",
                                 data=lambda i: {"to": to[i], "subject": "Welcome!"})
        self.pool = WorkerPool(q, {"send_email": mailer.send}, workers, poll_seconds=0.1,
                               crash_probability=crash_probability)
        self.total = len(to)
        # probe and counter names stay English (code reads them); the chart and the panel translate them
        self.sampler = Sampler({N_("waiting"): q.size, N_("retries (delayed)"): q.delayed_size, N_("DLQ"): q.dlq_size,
                                N_("sent"): self.sent}, title=_("10 % SMTP timeouts, some mailboxes bounce"),
                               live=live)

    def sent(self) -> int:
        with self.mailer._lock:
            return len(self.mailer.sent)

    def progress(self) -> dict[str, int]:
        c = self.q.counts()
        return {"completed": self.sent() + c["dead"], N_("sent"): self.sent(), N_("retrying"): c["delayed"],
                N_("dead"): c["dead"]}

    def done(self) -> bool:
        """Everything produced and settled: nothing waiting, in flight or delayed."""
        c = self.q.counts()
        return (self.producer.done and c["waiting"] == c["processing"] == c["delayed"] == 0
                and not self.pool.busy())


def dead_table(q: ReliableQueue, since: float = 0.0) -> Any:
    """A pandas DataFrame of the dead-letter queue: id, recipient, reason, attempts, failed at (s).

    The columns keep these English names for code; in French they are shown translated."""
    import pandas as pd

    rows = [{"id": d.id, "to": (d.job.data.get("to") if d.job else None), "reason": d.reason,
             "attempts": d.attempts, "failed at (s)": round(d.failed_at - since, 2)}
            for d in q.dead_letters(limit=10_000)]
    table = pd.DataFrame(rows, columns=["id", "to", "reason", "attempts", "failed at (s)"])
    return labelled(table, columns={"to": _("to"), "reason": _("reason"), "attempts": _("attempts"),
                                    "failed at (s)": _("failed at (s)")})


def dead_ids_by_recipient(q: ReliableQueue) -> dict[str, str]:
    """Recipient address -> dead job id (HGETALL of the DLQ)."""
    return {d.job.data["to"]: d.id for d in q.dead_letters(limit=10_000) if d.job is not None}


def total_wait(policy: Backoff, max_attempts: int) -> float:
    """Seconds of backoff a job sits through before its last attempt (no jitter: exact)."""
    return sum(policy.delay(a) for a in range(1, max_attempts))


def bull3_exponential(delay: float, attempts_made: int) -> float:
    """Bull 3's exponential backoff (the chapter's `require('bull')`): delay·(2^n − 1) after n failures."""
    return delay * (2 ** attempts_made - 1)


def bullmq_exponential(delay: float, attempts_made: int) -> float:
    """Today's BullMQ exponential backoff (and labqueue's Backoff): delay·2^(n−1) after n failures."""
    return delay * 2 ** (attempts_made - 1)


def bull_backoffs(delay: float, attempts: int) -> Any:
    """Wait before each retry of a job that always fails, per formula, with the total (pandas).

    Rows and columns keep their English labels for code (`table.loc["total wait"]`); in French they are
    shown translated."""
    import pandas as pd

    mine = Backoff.exponential(delay, cap=None)
    rows = {f"after failure {n} (before attempt {n + 1})": {
        "Bull 3: delay·(2^n − 1)": bull3_exponential(delay, n),
        "BullMQ: delay·2^(n−1)": bullmq_exponential(delay, n),
        "labqueue Backoff.exponential(delay)": mine.delay(n)} for n in range(1, attempts)}
    table = pd.DataFrame(rows).T
    table.loc["total wait"] = table.sum()
    rows_shown = {f"after failure {n} (before attempt {n + 1})":
                  _("after failure {n} (before attempt {next})").format(n=n, next=n + 1) for n in range(1, attempts)}
    rows_shown["total wait"] = _("total wait")
    return labelled(table, index=rows_shown,
                    columns={"Bull 3: delay·(2^n − 1)": _("Bull 3: delay·(2^n − 1)"),
                             "BullMQ: delay·2^(n−1)": _("BullMQ: delay·2^(n−1)")})


def __getattr__(name: str) -> str:
    """`retries.CHAPTER_NACK`: the chapter's retry diagram and nack, with the lab's comment in the language in use."""
    if name == "CHAPTER_NACK":
        return f"{_CHAPTER_RETRY}# {translate(_NACK_COMMENT)}\n{_CHAPTER_NACK_CODE}"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EmailExperiment", "bull3_exponential", "bull_backoffs", "bullmq_exponential", "FlakyMailer", "addresses", "dead_ids_by_recipient", "dead_table", "delay_table",
           "delays", "fail_together", "flips", "peak", "retry_offsets", "total_wait"]


def policies_figure(policies: dict[str, Backoff], attempts: int = 7, samples: int = 30, seed: int = 0) -> Any:
    """Delay after each failed attempt for each policy (jittered ones as a cloud of draws)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    for i, (name, policy) in enumerate(policies.items()):
        pts = delays(policy, attempts, samples if policy.jitter else 1, seed)
        shift = (i - len(policies) / 2) * 0.08
        ax.scatter([a + shift for a, _d in pts], [d for _a, d in pts], s=10 if policy.jitter else 30,
                   alpha=0.5 if policy.jitter else 1.0, label=name)
    ax.set_xlabel(_("failed attempt"))
    ax.set_ylabel(_("wait before the next (s)"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def herd_figure(offsets: dict[str, list[float]], bucket: float = 0.1, capacity: int | None = None) -> Any:
    """Histogram of retry times (seconds after the outage) per policy, optional capacity line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    top = max((max(v) for v in offsets.values() if v), default=1.0)
    bins = [i * bucket for i in range(int(top / bucket) + 2)]
    for name, values in offsets.items():
        ax.hist(values, bins=bins, alpha=0.6, label=name)
    if capacity:
        ax.axhline(capacity, color="red", linestyle=":",
                   label=_("downstream capacity / {bucket} s").format(bucket=number(bucket, "g")))
    ax.set_xlabel(_("retry due (s after the failure)"))
    ax.set_ylabel(_("retries per {bucket} s").format(bucket=number(bucket, "g")))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
