"""Notebook 09 helpers: the chapter's production checklist and its four anti-patterns, run live.

Redis structures: a ReliableQueue's lists, leases and dead-letter hashes; a pretend card
processor's ledger, the list `lq:{name}:ledger` (RPUSH per charge) and its idempotency hash
`lq:{name}:idempotency` (HSETNX key -> charge); a plain list a blocking loop waits on (BRPOP).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _running
from ..job import Job
from ..keys import Keys
from ..reliable import ReliableQueue
from ..worker import Worker
from .crashing import CrashingWorker
from .driven import Driven, Feed
from .experiments import Producer, WorkerPool
from .frames import labelled
from .i18n import N_, _, translate
from .live import Sampler

__all__ = ["BlockingLoop", "CardProcessor", "ObjectStore", "PoisonRace", "RedeliveryRun",
           "always_fails", "checklist", "fake_image", "library_figures", "poison_deliveries", "round_trip"]

CHECKLIST: list[tuple[str, str, str]] = [
    (N_("Architecture"), N_("Reliable queue (BRPOPLPUSH / BLMOVE) in production"),
     N_("ReliableQueue — 02a, 02b; why: a crash on each kind of queue — 09 §5")),
    (N_("Architecture"), N_("Dead-letter queue for jobs that keep failing"), N_("nack → DLQ, replay_dead() — 02b, 06")),
    (N_("Architecture"), N_("Retries with exponential backoff"), N_("Backoff.exponential(jitter='full') — 06")),
    (N_("Architecture"), N_("Priority queues for critical jobs"), N_("PriorityQueue — 03; JobQueue priority= — 08a")),
    (N_("Architecture"), N_("Delayed jobs for scheduling"), N_("DelayedQueue, CronQueue — 04, 05")),
    (N_("Performance"), N_("Several workers to scale"), N_("workers sharing one queue — 00, 01")),
    (N_("Performance"), N_("Batch processing when possible"), N_("enqueue_many, claim(N): round trips counted — 11")),
    (N_("Performance"), N_("Watch the queue length"), N_("live depth charts — 01, 07")),
    (N_("Performance"), N_("Auto-scale workers with the load"),
     N_("workers added and removed from the depth, live — 09 §7")),
    (N_("Performance"), N_("Rate-limit the workers"), N_("JobQueue limiter, live — 09 §6")),
    (N_("Reliability"), N_("Job timeout so workers never block"),
     N_("dequeue(timeout) — 09 §2; a hung handler given up by JobQueue timeout= and Worker(job_timeout=) — 09 §8")),
    (N_("Reliability"), N_("Recover stale jobs at start-up"),
     N_("recover_stale_jobs() in every worker's heartbeat — 02b, 10")),
    (N_("Reliability"), N_("Idempotent jobs (safe to retry)"), N_("idempotency key — 09 §1")),
    (N_("Reliability"), N_("Detailed logs for debugging"), N_("WorkerEvent timelines — 01; the events stream — 08a")),
    (N_("Reliability"), N_("Alert when the queue is too long"),
     N_("the Prometheus alerting rule is shown — 07 (the lab runs no Prometheus server: not fired)")),
    (N_("Monitoring"), N_("Metrics: size, throughput, latency, errors"), N_("Prometheus metrics scraped — 07")),
    (N_("Monitoring"), N_("Real-time dashboard"), N_("dashboard — 08b")),
    (N_("Monitoring"), N_("Alerting on anomalies"),
     N_("not covered: the lab runs no Prometheus or Alertmanager (07 shows the rule, not an alert)")),
    (N_("Monitoring"), N_("Distributed tracing for complex jobs"),
     N_("not covered: the lab's Tracer records one client's Redis commands, not a trace across services")),
]


CHAPTER_PAYMENT = """\
# ❌ BAD: Jobs non-idempotents
def process_payment(amount):
    charge_credit_card(amount)  # Appelé 2x si retry!

# ✅ GOOD: Jobs idempotents
def process_payment(payment_id):
    if not already_processed(payment_id):
        charge_credit_card(payment_id)
        mark_as_processed(payment_id)
"""  # the chapter, "Anti-patterns à éviter"


REFERENCE_SYSTEMS = ("labqueue reliable prefetch 50", "labqueue JobQueue (production)", "BullMQ", "RQ SimpleWorker")


def library_figures(path: str | Path | None = None) -> tuple[Any, dict[str, Any]]:
    """The benchmark's reference run (labqueue/bench/reference_run.json) for the libraries compared:
    a pandas DataFrame (jobs/s, bytes per job, ratio to BullMQ) and the run's meta (N, server, date)."""
    import pandas as pd

    if path is None:
        from importlib.resources import files

        raw = files("labqueue.bench").joinpath("reference_run.json").read_text()
    else:
        raw = Path(path).read_text()
    run = json.loads(raw)
    systems = {s["system"]: s for s in run["systems"]}
    missing = [name for name in REFERENCE_SYSTEMS if name not in systems]
    if missing:
        raise ValueError(f"reference run has no {missing}")
    bull = systems["BullMQ"]
    rows = []
    for name in REFERENCE_SYSTEMS:
        s = systems[name]
        rows.append({"system": name + (f" {s['version']}" if "version" in s else ""),
                     "jobs measured": s["n"],
                     "enqueue one by one /s": round(s["enqueue_one"]),
                     "enqueue bulk /s": round(s["enqueue_bulk"]),
                     "process, 1 worker /s": round(s["process_1"]),
                     "process vs BullMQ": f"{s['process_1'] / bull['process_1']:.2f}x",
                     "Redis bytes per job": round(s["bytes_per_job"])})
    table = pd.DataFrame(rows).set_index("system")
    return labelled(table, names={"system": _("system")}, columns={
        "jobs measured": _("jobs measured"), "enqueue one by one /s": _("enqueue one by one /s"),
        "enqueue bulk /s": _("enqueue bulk /s"), "process, 1 worker /s": _("process, 1 worker /s"),
        "process vs BullMQ": _("process vs BullMQ"), "Redis bytes per job": _("Redis bytes per job")}), run["meta"]


def checklist() -> Any:
    """The chapter's checklist as a pandas DataFrame, with where the lab covers each item.

    In French, the items are the chapter's own words (its "Checklist de production"); the columns keep
    their English names for code."""
    import pandas as pd

    rows = [tuple(translate(text) for text in row) for row in CHECKLIST]  # N_-marked constants, translated here
    table = pd.DataFrame(rows, columns=["area", "the chapter says", "in labqueue"])
    return labelled(table, columns={"area": _("area"), "the chapter says": _("the chapter says"),
                                    "in labqueue": _("in labqueue")})


# -- anti-pattern 1: non-idempotent jobs ------------------------------------------------------


@dataclass
class CardProcessor:
    """A pretend payment provider whose ledger lives in Redis, so every worker sees every charge."""

    r: Any
    name: str

    @property
    def ledger_key(self) -> str:
        return Keys(self.name).key("ledger")

    @property
    def idempotency_key(self) -> str:
        return Keys(self.name).key("idempotency")

    def clear(self) -> None:
        """Forget every charge (DEL)."""
        self.r.delete(self.ledger_key, self.idempotency_key)

    def charge(self, payment_id: str, amount: float) -> None:
        """Charge the card: every call is a new charge (RPUSH to the ledger)."""
        self.r.rpush(self.ledger_key, json.dumps({"payment": payment_id, "amount": amount}))

    def charge_with_key(self, payment_id: str, amount: float, idempotency_key: str) -> bool:
        """Charge once per idempotency key, as Stripe's Idempotency-Key header does (one script-free
        transaction: HSETNX, then RPUSH only if the key was new). Returns True when it charged."""
        entry = json.dumps({"payment": payment_id, "amount": amount})
        if not self.r.hsetnx(self.idempotency_key, idempotency_key, entry):
            return False
        self.r.rpush(self.ledger_key, entry)
        return True

    def charges(self) -> list[dict[str, Any]]:
        """Every charge made, oldest first (LRANGE)."""
        return [json.loads(x) for x in self.r.lrange(self.ledger_key, 0, -1)]

    def charged_per_payment(self) -> dict[str, int]:
        """Payment id -> how many times its card was charged."""
        out: dict[str, int] = {}
        for c in self.charges():
            out[c["payment"]] = out.get(c["payment"], 0) + 1
        return out


@dataclass
class RedeliveryRun:
    """Payments processed by a worker that crashes right after its first job, before the ack.

    Worker A (one thread, `crash_point="after"`) charges the first payment, then dies without
    acking; its lease runs out and worker B's heartbeat re-queues the job (recover.lua), so B runs
    it a second time. Whether the customer pays twice depends on the handler only.
    """

    q: ReliableQueue
    handler: Callable[[Job], Any]
    payments: int = 3
    workers: list[Worker] = field(default_factory=list)
    started_at: float = 0.0

    def start(self) -> RedeliveryRun:
        """Enqueue the payments and start worker A (it crashes) then worker B."""
        self.started_at = time.time()
        self.q.enqueue_many({"type": "process_payment", "payment_id": f"pay-{i + 1}", "amount": 49.90}
                            for i in range(self.payments))
        a = CrashingWorker(self.q, {"process_payment": self.handler}, name="worker-A", crash_point="after",
                           poll_seconds=0.1)
        a.crash(1)
        a.start()
        a.join(timeout=10)  # its only thread dies after the first job
        b = Worker(self.q, {"process_payment": self.handler}, name="worker-B", poll_seconds=0.1).start()
        self.workers = [a, b]
        return self

    @property
    def finished(self) -> bool:
        """Nothing waiting, in flight or delayed, and B has recovered the crashed job."""
        c = self.q.counts()
        return c["waiting"] == c["processing"] == c["delayed"] == 0 and self.workers[1].stats["recovered"] >= 1

    def wait_until_settled(self, timeout: float = 10.0) -> bool:
        """Wait (polling every 20 ms) until `finished`, at most `timeout` s; returns `finished`."""
        deadline = time.time() + timeout
        while not self.finished and time.time() < deadline:
            time.sleep(0.02)
        return self.finished

    def stop(self) -> None:
        """Stop both workers (joins their threads)."""
        for w in self.workers:
            w.stop()


# -- anti-pattern 2: a worker blocked without a timeout ---------------------------------------


@dataclass
class BlockingLoop:
    """The chapter's worker loop `while running: job = dequeue(timeout=...)` on a plain list (BRPOP).

    `timeout=0` is redis-py's "block forever": setting `running = False` cannot stop the loop
    until something arrives. `stop(grace)` says whether the thread ended within `grace` seconds.
    """

    r: Any
    key: str
    timeout: float
    handled: list[str] = field(default_factory=list)
    running: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> BlockingLoop:
        self.running = True
        self._thread = threading.Thread(target=self._run, name=f"blocking-{self.key}", daemon=True)
        self._thread.start()
        _running.started(self, self._end)
        return self

    def _end(self) -> None:
        if self.alive and not self.stop(grace=1.0):
            self.unblock()

    def _run(self) -> None:
        while self.running:
            reply = self.r.brpop([self.key], timeout=self.timeout)
            if reply is not None:
                self.handled.append(reply[1] if isinstance(reply[1], str) else reply[1].decode())

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, grace: float) -> bool:
        """Ask the loop to stop and wait up to `grace` s; True when the thread ended."""
        self.running = False
        if self._thread is not None:
            self._thread.join(grace)
        return not self.alive

    def unblock(self) -> None:
        """Push a wake-up entry (LPUSH) so a loop stuck in BRPOP returns, then join it."""
        self.r.lpush(self.key, "wake-up")
        if self._thread is not None:
            self._thread.join(5)


# -- anti-pattern 3: unlimited retries --------------------------------------------------------


def poison_deliveries(q: ReliableQueue, job_id: str) -> int:
    """How many times a job has been delivered: its attempts counter, or the DLQ's record (HGET)."""
    n = q.redis.hget(q.keys.attempts, job_id)
    if n is not None:
        return int(n)
    meta = q.redis.hget(q.keys.dlq_meta, job_id)
    return int(json.loads(meta)["attempts"]) if meta else 0


def always_fails(job: Job) -> None:
    """A handler for a poison job: it fails on every delivery (its message in the lab's language)."""
    raise ValueError(_("cannot parse invoice {invoice}").format(invoice=repr(job.data.get("invoice"))))


class PoisonRace(Driven):
    """The same workload on two queues: retries without a limit, and `max_attempts` with a DLQ.

    Each queue gets one poison invoice (it always fails) and then `jobs` good invoices at `rate`
    per second; each has its own `workers` workers. Retries come back after `retry_delay` s.
    """

    def __init__(self, unlimited: ReliableQueue, limited: ReliableQueue, *, jobs: int = 60,
                 rate: float = 40.0, workers: int = 1, job_seconds: float = 0.01, live: bool = True) -> None:
        super().__init__()
        self.unlimited, self.limited, self.job_seconds = unlimited, limited, job_seconds
        self.done_per_queue: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.poison_ids: dict[str, str] = {}

        def both(data: dict[str, Any], job_id: str) -> str:
            limited.enqueue(data, job_id=job_id)
            return unlimited.enqueue(data, job_id=job_id)

        self.producer = Producer(Feed(both), jobs, rate, job_type="invoice", data=lambda i: {"invoice": f"#{i}"})
        self.pool = WorkerPool(unlimited, {"invoice": lambda job: self._handle(job, unlimited.name)}, workers,
                               poll_seconds=0.05)
        self.other_pool = WorkerPool(limited, {"invoice": lambda job: self._handle(job, limited.name)}, workers,
                                     poll_seconds=0.05)
        self.total = 2 * jobs
        self.sampler = Sampler({  # names stay English (code reads them); the chart translates them
            N_("poison deliveries, no limit"): lambda: self.deliveries(unlimited),
            N_("poison deliveries, max 3"): lambda: self.deliveries(limited),
            N_("DLQ, max 3"): limited.dlq_size,
            N_("good invoices done, no limit"): lambda: self.done_per_queue[unlimited.name],
            N_("good invoices done, max 3"): lambda: self.done_per_queue[limited.name],
        }, title=_("a poison invoice, retried forever or 3 times"), live=live)

    def deliveries(self, q: ReliableQueue) -> int:
        return poison_deliveries(q, self.poison_ids.get(q.name, ""))

    def setup(self) -> None:
        for q in (self.unlimited, self.limited):
            self.poison_ids[q.name] = q.enqueue({"type": "invoice", "invoice": "corrupt.pdf", "poison": True})
        self.other_pool.start()

    def _handle(self, job: Job, queue_name: str) -> None:
        if job.data.get("poison"):
            always_fails(job)
        time.sleep(self.job_seconds)
        with self._lock:
            self.done_per_queue[queue_name] += 1

    def progress(self) -> dict[str, int]:
        return {"completed": sum(self.done_per_queue.values()),
                N_("poison deliveries (no limit)"): self.deliveries(self.unlimited),
                N_("DLQ (max 3)"): self.limited.dlq_size()}

    def done(self) -> bool:
        """Every good invoice is done on both queues."""
        return self.producer.done and sum(self.done_per_queue.values()) >= self.total

    def teardown(self) -> None:
        self.other_pool.stop()


# -- anti-pattern 4: a 10 MB payload -----------------------------------------------------------


def fake_image(megabytes: float, seed: int = 0) -> str:
    """Base64 text of `megabytes` MB once encoded, as the chapter's `base64_encoded_10mb_image`."""
    raw = random.Random(seed).randbytes(int(megabytes * 1_000_000 * 3 / 4))
    return base64.b64encode(raw).decode("ascii")


@dataclass
class ObjectStore:
    """A folder standing in for S3: `put` stores bytes and returns a reference (a file:// URL)."""

    root: Path

    def put(self, name: str, data: bytes) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        path.write_bytes(data)
        return path.resolve().as_uri()

    def get(self, url: str) -> bytes:
        return Path(url.removeprefix("file://")).read_bytes()


def round_trip(q: Any, data: dict[str, Any], repeat: int = 3) -> dict[str, float]:
    """Enqueue and dequeue one job `repeat` times: Redis bytes per job and best ms per round trip."""
    best = float("inf")
    size = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        q.enqueue(data)
        job = q.dequeue(timeout=1)
        best = min(best, time.perf_counter() - t0)
        assert job is not None
        size = len(job.raw.encode("utf-8"))
        q.ack(job)
    return {N_("bytes in Redis per job"): size, N_("enqueue + dequeue (ms)"): round(best * 1000, 2)}
