"""Workload drivers for the notebooks: a producer thread, a pool of crash-prone workers, a tally.

- `Producer`: enqueues `jobs` jobs with ids `job-0000`... at `rate` jobs/s (a number, or a function
  of the elapsed seconds for bursts), in its own thread.
- `WorkerPool`: N `labqueue.Worker`s of one thread each (`w1`...`wN`) with crash injection; a dead
  worker is restarted by a supervisor, as systemd or Kubernetes would restart a crashed process.
- `ExecutionLog`: the handler the workers run (it sleeps `work_seconds`), recording who ran which job
  and which deliveries died mid-job (from the workers' `on_event`).
- `tally()`: processed / lost / processed twice per job id, from the execution log and what is still
  in Redis (LRANGE of the lists, ZRANGE of the sorted sets, HKEYS of the dead-letter hash).
- `Experiment`: all of the above plus a live sampler, in a background thread (`start`, `wait`, `run`).

What the student reads is in the language in use (labqueue.lab.i18n): a tally prints its counts under
translated names (`Tally.as_dict()` keeps its English keys for code), the sampler's curves and the
panel's counters are named after probe and counter names marked with `N_()` here.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _running
from ..base import text
from ..cluster import is_cluster
from ..worker import Worker, WorkerEvent
from .crashing import CrashingWorker
from .i18n import N_, Number, _, language
from .live import translated

Rate = float | Callable[[float], float]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, poll: float = 0.02) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


# -- executions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Execution:
    """One delivery of a job to a worker: `outcome` is 'done', 'crashed' or 'failed'."""

    job_id: str
    worker: str
    started: float
    finished: float
    outcome: str


class ExecutionLog:
    """Who ran which job, and when; which deliveries crashed. Thread safe."""

    def __init__(self, work_seconds: float | Callable[[Any], float] = 0.02,
                 fail: Callable[[Any], bool] | None = None) -> None:
        self.work_seconds = work_seconds
        self.fail = fail
        self.t0 = time.time()
        self.executions: list[Execution] = []
        self._lock = threading.Lock()
        self._current: dict[tuple[str, int], tuple[str, float]] = {}

    def handler(self, job: Any) -> None:
        """The job handler: sleep `work_seconds` (or `work_seconds(job)`), record the execution.

        Raises ConnectionError (a simulated SMTP timeout, its message in the language in use) when
        `fail(job)` is true.
        """
        worker = threading.current_thread().name.rsplit("-", 1)[0]
        started = time.time()
        seconds = self.work_seconds(job) if callable(self.work_seconds) else self.work_seconds
        if seconds > 0:
            time.sleep(seconds)
        if self.fail is not None and self.fail(job):
            self._add(Execution(job.id, worker, started, time.time(), "failed"))
            raise ConnectionError(_("SMTP timeout (simulated)"))
        self._add(Execution(job.id, worker, started, time.time(), "done"))

    def on_event(self, event: WorkerEvent) -> None:
        """Worker callback: remember each thread's job, record the delivery a crash killed."""
        key = (event.worker, event.thread)
        with self._lock:
            if event.kind == "started":
                self._current[key] = (event.job_id, event.at)
            elif event.kind == "crashed" and key in self._current:
                job_id, started = self._current.pop(key)
                self.executions.append(Execution(job_id, event.worker, started, event.at, "crashed"))

    def _add(self, execution: Execution) -> None:
        with self._lock:
            self.executions.append(execution)

    def completed(self) -> Counter[str]:
        """Job id -> how many times its handler ran to the end."""
        with self._lock:
            return Counter(e.job_id for e in self.executions if e.outcome == "done")

    def crashed(self) -> list[Execution]:
        """Deliveries that died mid-job."""
        with self._lock:
            return [e for e in self.executions if e.outcome == "crashed"]

    def frame(self) -> Any:
        """A pandas DataFrame of the executions, times in seconds since the log was made."""
        import pandas as pd

        with self._lock:
            rows = [{"job": e.job_id, "worker": e.worker, "start": e.started - self.t0,
                     "end": e.finished - self.t0, "outcome": e.outcome} for e in self.executions]
        return pd.DataFrame(rows, columns=["job", "worker", "start", "end", "outcome"])


# -- what Redis still holds ---------------------------------------------------------------------
def _job_id(raw: Any) -> str | None:
    try:
        record = json.loads(text(raw))
    except ValueError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def ids_in_redis(queue: Any) -> dict[str, set[str]]:
    """Job ids still held by the queue's keys: waiting, processing, priority, delayed, dead.

    LRANGE of the lists, ZRANGE of the sorted sets, HKEYS of the dead-letter hash (one pipeline).
    """
    k = queue.keys
    names = [k.waiting, k.processing, k.priority, k.delayed, k.dlq]
    slots = {queue.redis.keyslot(n) for n in names} if is_cluster(queue.redis) else {0}
    pipe = queue.redis.pipeline(transaction=len(slots) == 1)  # a student's untagged keys span cluster slots
    pipe.lrange(k.waiting, 0, -1)
    pipe.lrange(k.processing, 0, -1)
    pipe.zrange(k.priority, 0, -1)
    pipe.zrange(k.delayed, 0, -1)
    pipe.hkeys(k.dlq)
    waiting, processing, priority, delayed, dead = pipe.execute()
    found = {"waiting": {_job_id(x) for x in waiting} | {_job_id(x) for x in priority},
             "processing": {_job_id(x) for x in processing},
             "delayed": {_job_id(x) for x in delayed},
             "dead": {text(x) for x in dead}}
    return {name: {i for i in ids if i} for name, ids in found.items()}


TALLY_LABELS = {"submitted": N_("submitted"), "processed": N_("processed"),
                "processed_twice": N_("processed twice"), "lost": N_("lost"), "pending": N_("pending"),
                "dead": N_("dead"), "crashed": N_("crashed deliveries"), "recovered": N_("recovered")}


class Counts(dict):  # type: ignore[type-arg]
    """A dict of counts with English keys (code reads them) that prints them in the language in use."""

    def __repr__(self) -> str:
        if language() == "en":
            return dict.__repr__(self)
        return "{" + ", ".join(f"{translated(TALLY_LABELS.get(k, k))!r}: {v!r}" for k, v in self.items()) + "}"

    __str__ = __repr__


@dataclass
class Tally:
    """The fate of every submitted job, per job id."""

    submitted: int
    processed: int  # distinct jobs whose handler ran to the end at least once
    processed_twice: int  # jobs whose handler ran to the end more than once
    lost: int  # neither processed nor anywhere in Redis: gone
    pending: int  # not processed, still waiting / in processing / delayed
    dead: int  # in the dead-letter queue
    crashed: int  # deliveries killed mid-job
    recovered: int  # jobs hit by a crash and completed by a later delivery
    lost_ids: list[str] = field(default_factory=list)
    twice_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The counts only (English keys; printed, their names are in the language in use)."""
        return Counts({k: v for k, v in vars(self).items() if isinstance(v, int)})


def tally(queue: Any, submitted: Sequence[str], log: ExecutionLog) -> Tally:
    """Count processed, lost and processed-twice jobs from the log and the queue's Redis state."""
    done = log.completed()
    held = ids_in_redis(queue)
    in_redis = set().union(*held.values())
    lost = [j for j in submitted if done[j] == 0 and j not in in_redis]
    pending = [j for j in submitted if done[j] == 0 and j not in held["dead"] and j in in_redis]
    twice = [j for j in submitted if done[j] >= 2]
    crashes = log.crashed()
    recovered = set()
    for crash in crashes:
        if any(e.job_id == crash.job_id and e.outcome == "done" and e.started >= crash.finished
               for e in log.executions):
            recovered.add(crash.job_id)
    return Tally(submitted=len(submitted), processed=sum(1 for j in submitted if done[j] > 0),
                 processed_twice=len(twice), lost=len(lost), pending=len(pending),
                 dead=sum(1 for j in submitted if j in held["dead"]), crashed=len(crashes),
                 recovered=len(recovered), lost_ids=lost, twice_ids=twice)


# -- producing ----------------------------------------------------------------------------------
class Producer:
    """Enqueue `jobs` jobs (`{prefix}-0000`...) at `rate` jobs/s in a thread; `rate` may vary with time."""

    def __init__(self, queue: Any, jobs: int, rate: Rate = 50.0, *, job_type: str = "work",
                 prefix: str = "job", data: Callable[[int], dict[str, Any]] | None = None) -> None:
        self.queue = queue
        self.jobs = jobs
        self.rate = rate
        self.job_type = job_type
        self.prefix = prefix
        self.data = data or (lambda i: {"n": i})
        self.ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)
        self.t0 = 0.0

    def current_rate(self) -> float:
        """Jobs per second right now."""
        rate = self.rate(time.time() - self.t0) if callable(self.rate) else self.rate
        return max(float(rate), 0.0)

    def start(self) -> Producer:
        self.t0 = time.time()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop enqueueing and join the thread."""
        self._stop.set()
        self.join()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive() or self._thread.ident is not None:
            self._thread.join(timeout)

    @property
    def done(self) -> bool:
        """True once every job is enqueued (or the producer was stopped)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def _run(self) -> None:
        due = time.time()
        for i in range(self.jobs):
            if self._stop.is_set():
                return
            job_id = f"{self.prefix}-{i:04d}"
            self.queue.enqueue({"type": self.job_type, **self.data(i)}, job_id=job_id)
            self.ids.append(job_id)
            rate = self.current_rate()
            due = max(due + (1.0 / rate if rate > 0 else 0.05), time.time() - 0.05)
            wait = due - time.time()
            if wait > 0 and self._stop.wait(wait):
                return


# -- consuming ----------------------------------------------------------------------------------
class WorkerPool:
    """N single-thread `Worker`s named w1..wN; crashed ones are restarted (a new seed each time)."""

    def __init__(self, queue: Any, handlers: Mapping[str, Callable[[Any], Any]], workers: int = 3, *,
                 crash_probability: float = 0.0, crash_point: str = "before", seed: int = 0,
                 respawn: bool = True, poll_seconds: float = 0.1,
                 on_event: Callable[[WorkerEvent], None] | None = None) -> None:
        if crash_point not in ("before", "after", "mixed"):
            raise ValueError("crash_point must be 'before', 'after' or 'mixed' (odd workers before)")
        self.queue = queue
        self.handlers = dict(handlers)
        self.size = workers
        self.crash_probability = crash_probability
        self.crash_point = crash_point
        self.seed = seed
        self.respawn = respawn
        self.poll_seconds = poll_seconds
        self.on_event = on_event
        self.workers: dict[str, Worker] = {}
        self.retired: list[Worker] = []
        self.restarts = 0
        self._generation: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)

    def _spawn(self, slot: int) -> Worker:
        name = f"w{slot}"
        generation = self._generation[name]
        self._generation[name] += 1
        point = self.crash_point if self.crash_point != "mixed" else ("before" if slot % 2 else "after")
        worker = CrashingWorker(self.queue, self.handlers, concurrency=1, name=name,
                        poll_seconds=self.poll_seconds, crash_probability=self.crash_probability,
                        crash_point=point, seed=self.seed * 1000 + slot * 37 + generation,
                        on_event=self.on_event)
        self.workers[name] = worker
        return worker.start()

    def start(self) -> WorkerPool:
        with self._lock:
            for slot in range(1, self.size + 1):
                self._spawn(slot)
        self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                for name, worker in list(self.workers.items()):
                    if worker.alive == 0 and self.respawn and not self._stop.is_set():
                        worker.join()
                        self.retired.append(worker)
                        self.restarts += 1
                        self._spawn(int(name[1:]))

    def resize(self, workers: int) -> None:
        """Run `workers` workers from now on (start new ones, or stop the highest-numbered)."""
        with self._lock:
            self.size = workers
            for slot in range(1, workers + 1):
                if f"w{slot}" not in self.workers:
                    self._spawn(slot)
            for name in [n for n in self.workers if int(n[1:]) > workers]:
                worker = self.workers.pop(name)
                worker.stop(wait=False)
                self.retired.append(worker)

    def set_crash_probability(self, p: float) -> None:
        """Change the crash probability of every live worker."""
        with self._lock:
            self.crash_probability = p
            for worker in self.workers.values():
                worker.crash_probability = p

    def crash_one(self) -> str | None:
        """Make a busy worker (else any live one) die on its current or next job; returns its name."""
        with self._lock:
            live = [w for w in self.workers.values() if w.alive]
            busy = [w for w in live if w.held()]
            target = (busy or live or [None])[0]
            if target is None:
                return None
            target.crash()
            return target.name

    def busy(self) -> bool:
        """True while some worker holds a job."""
        with self._lock:
            return any(w.held() for w in self.workers.values())

    def alive(self) -> int:
        """Worker threads running now."""
        with self._lock:
            return sum(w.alive for w in self.workers.values())

    def crashes(self) -> int:
        """Crashes so far, over every generation of worker."""
        with self._lock:
            return sum(w.stats["crashed"] for w in [*self.workers.values(), *self.retired])

    def stop(self) -> None:
        """Stop the supervisor, then every worker (they finish the job in hand); join all threads."""
        self._stop.set()
        if self._supervisor.ident is not None:
            self._supervisor.join()
        with self._lock:
            everyone = [*self.workers.values(), *self.retired]
        for worker in everyone:
            worker.stop(wait=False)
        for worker in everyone:
            worker.join()


def drained(queue: Any) -> bool:
    """True when nothing is waiting, in processing or delayed (LLEN / ZCARD)."""
    if queue.size() > 0:
        return False
    for probe in ("processing_size", "delayed_size"):
        if hasattr(queue, probe) and getattr(queue, probe)() > 0:
            return False
    return True


def queue_probes(queue: Any, log: ExecutionLog | None = None,
                 producer: Producer | None = None) -> dict[str, Callable[[], float]]:
    """Probes for a Sampler: waiting, processing (reliable), dead, done (completed runs), enqueued."""
    probes: dict[str, Callable[[], float]] = {N_("waiting"): queue.size}
    if hasattr(queue, "processing_size"):
        probes[N_("processing")] = queue.processing_size
    probes[N_("dead")] = queue.dlq_size
    if log is not None:
        probes[N_("done")] = lambda: float(sum(log.completed().values()))
    if producer is not None:
        probes[N_("enqueued")] = lambda: float(len(producer.ids))
    return probes


# -- the whole experiment -----------------------------------------------------------------------
@dataclass
class Result:
    """What an experiment leaves: the tally, the execution log, the sampled time series."""

    tally: Tally
    log: ExecutionLog
    samples: Any  # pandas DataFrame (empty without a sampler)
    seconds: float
    stopped_early: bool


class Experiment:
    """Producer + workers (+ sampler, + panel) on `queue`, driven from a background thread.

    `start()` returns at once (the panel's buttons work while it runs), `wait()` joins and returns
    the Result; `run()` does both. It ends when every job is enqueued and the queue is drained
    and no worker holds a job, or on `stop()`, or after `max_seconds`.
    """

    def __init__(self, queue: Any, *, jobs: int = 40, rate: Rate = 50.0, workers: int = 3,
                 work_seconds: float | Callable[[Any], float] = 0.02, crash_probability: float = 0.0, crash_point: str = "before",
                 seed: int = 0, max_seconds: float = 12.0, fail: Callable[[Any], bool] | None = None,
                 sampler: Any = None, panel: Any = None, job_type: str = "work",
                 data: Callable[[int], dict[str, Any]] | None = None) -> None:
        self.queue = queue
        self.log = ExecutionLog(work_seconds, fail)
        self.producer = Producer(queue, jobs, rate, job_type=job_type, data=data)
        self.pool = WorkerPool(queue, {job_type: self.log.handler}, workers,
                               crash_probability=crash_probability, crash_point=crash_point,
                               seed=seed, on_event=self.log.on_event)
        self.jobs = jobs
        self.max_seconds = max_seconds
        if sampler is True:
            from .live import Sampler

            sampler = Sampler(queue_probes(queue, self.log, self.producer),
                              rates={N_("arrivals"): "enqueued", N_("throughput"): "done"},
                              title=_("queue {name}").format(name=repr(queue.name)))
        self.sampler = sampler or None
        self.panel = panel
        self.result: Result | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drive, name="experiment", daemon=True)

    def start(self) -> Experiment:
        """Start producer, workers, sampler and the driver thread; return at once."""
        self.log.t0 = time.time()
        if self.sampler is not None:
            self.sampler.start()
        self.pool.start()
        self.producer.start()
        self._thread.start()
        _running.started(self, self._stop_and_join)
        return self

    def stop(self) -> None:
        """End the experiment early (the driver still joins every thread)."""
        self._stop.set()

    def _stop_and_join(self) -> None:
        self._stop.set()
        _running.join(self._thread, 15)

    def crash_now(self) -> str | None:
        """Kill one worker mid-job (the next job it touches)."""
        return self.pool.crash_one()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> Result:
        """Join the experiment and return its Result."""
        _running.join(self._thread, timeout)
        if self.result is None:
            raise TimeoutError("the experiment is still running")
        return self.result

    def run(self) -> Result:
        """start() then wait()."""
        return self.start().wait()

    def progress(self) -> dict[str, int]:
        """Enqueued, completed executions, crashes and live workers right now."""
        return {N_("enqueued"): len(self.producer.ids), N_("completed"): sum(self.log.completed().values()),
                N_("crashes"): self.pool.crashes(), N_("workers"): self.pool.alive()}

    def _update_panel(self, status: str) -> None:
        if self.panel is not None:
            self.panel.show_progress(self.progress(), self.jobs, status)

    def _drive(self) -> None:
        t0 = time.time()
        deadline = t0 + self.max_seconds
        stopped = False
        try:
            while True:
                self._update_panel(_("running"))
                if self._stop.wait(0.05):
                    stopped = True
                    break
                if time.time() > deadline:
                    stopped = True
                    break
                if self.producer.done and drained(self.queue) and not self.pool.busy():
                    break
        finally:
            self.producer.stop()
            self.pool.stop()
            if self.sampler is not None:
                self.sampler.stop()
            seconds = time.time() - t0
            result = Result(tally(self.queue, list(self.producer.ids), self.log), self.log,
                            self.sampler.frame() if self.sampler is not None else None,
                            seconds, stopped)
            self.result = result
            self._update_panel(_("stopped early") if stopped
                               else _("done in {seconds:.1f} s").format(seconds=Number(seconds)))
