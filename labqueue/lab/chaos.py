"""Chaos lab (notebook 10): real worker processes, killed with SIGKILL at random, and the tally.

`reachable_server()` finds a Redis that other processes can reach: $REDIS_URL, else a private
redis-server started for the notebook, else fakeredis' TcpFakeServer (slower, about 90 jobs/s).
`ChaosRun` enqueues jobs, starts `python -m labqueue worker` processes with the handlers of this
module (`--handlers labqueue.lab.chaos`), kills one at random every fraction of a second (from a
button, and automatically) and replaces it, shows waiting / processing / leases / DLQ live, and
counts every execution in the hash `lq:{queue}:chaos:executions` (HINCRBY by the handler) to
tally processed, lost and duplicated jobs. The handler also counts, per worker process, the jobs it
holds (`lq:{queue}:chaos:busy`, pid -> jobs in hand), so that `kill_one` hits a process that holds
jobs: without it, a kill that lands while a fresh worker is still importing loses nothing, and the
simple queue's loss shows only by luck (it did not, once, in a loaded CI run). Widgets are imported lazily: the worker processes
import this module for its handlers and need none of them.
"""

from __future__ import annotations

import atexit
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from .. import _running
from ..connection import connect, describe, mask_url
from ..keys import Keys
from .server import RedisServer, free_port, redis_server_binary
from .i18n import _, number

LEDGER_ENV = "LABQUEUE_CHAOS_LEDGER"
BUSY_ENV = "LABQUEUE_CHAOS_BUSY"
_ledger: Any = None
_SPAWNED: list[subprocess.Popen[bytes]] = []  # killed at exit, even when a cell failed half-way
_SERVERS: list[Any] = []


@atexit.register
def _cleanup() -> None:
    for proc in _SPAWNED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for stop in _SERVERS:
        stop()


def ledger_key(queue: str) -> str:
    """The hash counting executions of each job of `queue` (job id -> runs)."""
    return Keys(queue).key("chaos:executions")


def busy_key(queue: str) -> str:
    """The hash counting the jobs each worker process holds (pid -> jobs in hand)."""
    return Keys(queue).key("chaos:busy")


def work(job: Any) -> None:
    """The chaos handler: mark the job in hand, sleep `data["ms"]` ms, record the execution (HINCRBY
    job id) and unmark it in one pipeline."""
    global _ledger
    if _ledger is None:
        _ledger = connect(os.environ["REDIS_URL"])  # a cluster node URL gives a cluster client
    ledger, pid = os.environ[LEDGER_ENV], os.getpid()
    busy = os.environ.get(BUSY_ENV)
    if busy:
        _ledger.hincrby(busy, pid, 1)
    time.sleep(float(job.data.get("ms", 0)) / 1000)
    pipe = _ledger.pipeline(transaction=False)
    pipe.hincrby(ledger, job.id, 1)
    if busy:
        pipe.hincrby(busy, pid, -1)
    pipe.execute()


HANDLERS = {"work": work}


@dataclass
class Server:
    """A Redis URL reachable from other processes, what it is, and how to stop it."""

    url: str
    kind: str  # "REDIS_URL", "redis-server" or "TcpFakeServer"
    _stop: Any = None

    def describe(self) -> str:
        """What the server is, never its password."""
        if self.kind == "TcpFakeServer":
            return _("fakeredis TcpFakeServer at {url} (slow: about 90 jobs/s)").format(url=mask_url(self.url))
        client = connect(self.url)
        try:
            from .session import shown_backend

            return f"{self.kind}: {shown_backend(describe(client))}"
        finally:
            client.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def reachable_server() -> Server:
    """$REDIS_URL, else a private redis-server, else a TcpFakeServer on a free port (127.0.0.1)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return Server(url, "REDIS_URL")
    if redis_server_binary() is not None:
        srv = RedisServer().start()
        _SERVERS.append(srv.stop)
        return Server(srv.url, "redis-server", srv.stop)
    from fakeredis import TcpFakeServer

    port = free_port()
    tcp = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    thread = threading.Thread(target=tcp.serve_forever, name="tcp-fakeredis", daemon=True)
    thread.start()

    def stop() -> None:
        tcp.shutdown()
        tcp.server_close()
        thread.join(5)

    server = Server(f"redis://127.0.0.1:{port}/0", "TcpFakeServer", stop)
    _running.started(server, server.stop)
    _SERVERS.append(server.stop)
    return server


# Deliveries a job of a chaos run may have before the DLQ, on the jobs themselves (a job's own max_attempts
# wins over the worker's): the killer targets processes that hold jobs, so near the end of a run the few
# jobs left are killed again and again; with the default 3 one of them could end in the DLQ, never run.
ATTEMPTS = 50


def sizes(server: Server) -> dict[str, Any]:
    """Run sizes that finish in a few seconds on this server (TcpFakeServer is much slower)."""
    if server.kind == "TcpFakeServer":
        return {"jobs": 90, "work_ms": 5}
    return {"jobs": 300, "work_ms": 20}


@dataclass
class Tally:
    """The outcome of a chaos run, from the execution ledger in Redis."""

    jobs: int
    processed: int  # distinct jobs executed at least once
    lost: int  # jobs never executed
    duplicated: int  # executions beyond the first
    kills: int
    dead: int  # dead-letter entries
    seconds: float

    def __str__(self) -> str:
        return _("jobs {jobs}, processed {processed}, lost {lost}, duplicated {duplicated}, kills {kills}, "
                 "dead letters {dead}, {seconds} s").format(
            jobs=self.jobs, processed=self.processed, lost=self.lost, duplicated=self.duplicated,
            kills=self.kills, dead=self.dead, seconds=number(self.seconds, ".1f"))


class ChaosRun:
    """Worker processes on `url`, killed at random until the queue is drained."""

    def __init__(self, url: str, *, queue: str = "nb10_chaos", pattern: str = "reliable", jobs: int = 300,
                 workers: int = 3, concurrency: int = 2, lease: float = 1.0, work_ms: float = 5,
                 kill_every: tuple[float, float] = (0.3, 0.6), auto_kill: bool = True, seed: int = 10) -> None:
        self.url, self.queue, self.pattern = url, queue, pattern
        self.jobs, self.workers, self.concurrency, self.lease = jobs, workers, concurrency, lease
        self.work_ms, self.kill_every, self.auto_kill = work_ms, kill_every, auto_kill
        self.rng = random.Random(seed)
        self.keys = Keys(queue)
        self.ledger = ledger_key(queue)
        self.busy = busy_key(queue)
        self.redis = connect(url)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.kills = 0
        self.ids: list[str] = []
        self.logs = Path(tempfile.mkdtemp(prefix="labqueue-chaos-"))
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._widgets: dict[str, Any] = {}
        self._started = 0.0
        self._result: Tally | None = None
        self._closed = False

    # -- processes ---------------------------------------------------------------------------------
    def command(self) -> list[str]:
        """The command line of one worker process (the URL comes from the environment)."""
        return [sys.executable, "-m", "labqueue", "worker", "--queue", self.queue, "--pattern", self.pattern,
                "--handlers", "labqueue.lab.chaos", "--concurrency", str(self.concurrency),
                "--lease", str(self.lease), "--max-attempts", str(ATTEMPTS), "--poll", "0.2"]

    def _spawn(self) -> None:
        env = {**os.environ, "REDIS_URL": self.url, LEDGER_ENV: self.ledger, BUSY_ENV: self.busy}
        with open(self.logs / f"worker-{len(list(self.logs.iterdir()))}.log", "wb") as log:
            # own session: a kernel interrupt (SIGINT to its process group) does not reach the workers
            self.procs.append(subprocess.Popen(self.command(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))
        _SPAWNED.append(self.procs[-1])

    def holding(self) -> list[subprocess.Popen[bytes]]:
        """The live worker processes that hold at least one job now (the busy hash)."""
        counts = {int(k): int(v) for k, v in self.redis.hgetall(self.busy).items()}
        return [p for p in self.procs if p.poll() is None and counts.get(p.pid, 0) > 0]

    def kill_one(self, wait: float = 5.0) -> int | None:
        """SIGKILL a worker process that holds jobs and start a replacement; returns the pid killed.

        Waits up to `wait` seconds for a process to hold a job (fresh processes take a moment to
        start), then picks at random among those that do, or among all live ones if none does."""
        deadline = time.monotonic() + wait
        while not self.holding() and time.monotonic() < deadline and not self._done.is_set():
            time.sleep(0.005)
        with self._lock:
            alive = [p for p in self.procs if p.poll() is None]
            if not alive or self._done.is_set():
                return None
            victim = self.rng.choice(self.holding() or alive)
            victim.kill()
            victim.wait()
            self.procs.remove(victim)
            self.kills += 1
            self._spawn()
            return victim.pid

    def banner(self) -> str:
        """The first log line of the first worker (its banner: never the password)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for path in sorted(self.logs.iterdir()):
                for line in path.read_text(errors="replace").splitlines():
                    if "(pid " in line:
                        return mask_url(line.split(": ", 1)[-1])
            time.sleep(0.05)
        return _("(no worker started)")

    # -- the run -----------------------------------------------------------------------------------
    def start(self) -> ChaosRun:
        """Clear the queue, enqueue the jobs, start the workers, the killer and the live view."""
        from ..reliable import ReliableQueue
        from ..simple import SimpleQueue

        self.redis.delete(*self.keys.all(), self.ledger, self.busy)
        queue = (ReliableQueue if self.pattern == "reliable" else SimpleQueue)(self.redis, self.queue,
                                                                              max_attempts=ATTEMPTS)
        self.ids = queue.enqueue_many([{"type": "work", "ms": self.work_ms} for _ in range(self.jobs)])
        self._started = time.monotonic()
        for _ in range(self.workers):
            self._spawn()
        for target in (self._killer, self._monitor):
            thread = threading.Thread(target=target, name=f"chaos-{target.__name__}", daemon=True)
            self._threads.append(thread)
            thread.start()
        _running.started(self, self.close)
        return self

    def _killer(self) -> None:
        while not self._done.wait(self.rng.uniform(*self.kill_every)):
            if self.auto_kill and self.redis.llen(self.keys.waiting) > 0:
                self.kill_one(wait=0.5)

    def snapshot(self) -> dict[str, int]:
        """Waiting, processing, leases, DLQ, executed jobs and kills (one pipeline)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.keys.waiting)
        pipe.llen(self.keys.processing)
        pipe.zcard(self.keys.leases)
        pipe.hlen(self.keys.dlq)
        pipe.hlen(self.ledger)
        waiting, processing, leases, dead, executed = pipe.execute()
        return {"waiting": waiting, "processing": processing, "leases": leases, "dead letters": dead,
                "executed": executed, "kills": self.kills}

    def drained(self) -> bool:
        s = self.snapshot()
        if self.pattern == "simple":
            return s["waiting"] == 0
        return s["waiting"] == s["processing"] == 0 and s["executed"] + s["dead letters"] >= self.jobs

    def _monitor(self) -> None:
        while not self._done.wait(0.1):
            self._show(self.snapshot())

    def _show(self, snap: dict[str, int]) -> None:
        w = self._widgets
        if not w:
            return
        w["progress"].value = snap["executed"]
        labels = {"waiting": _("waiting"), "processing": _("processing"), "leases": _("leases"),
                  "dead letters": _("dead letters"), "executed": _("executed"), "kills": _("kills")}
        w["counters"].value = " &nbsp; ".join(f"<b>{labels.get(k, k)}</b> {v}" for k, v in snap.items())
        alive = sum(p.poll() is None for p in self.procs)
        w["status"].value = _("worker processes alive: {n}, {seconds} s").format(
            n=alive, seconds=number(time.monotonic() - self._started, ".1f"))

    def panel(self) -> Any:
        """A panel (class lq-panel): kill button, auto-kill switch, live counters (class lq-live)."""
        import ipywidgets as widgets

        from .panel import live, progress_bar

        kill = widgets.Button(description=_("kill -9 a worker"), icon="bolt", button_style="danger")
        auto = widgets.Checkbox(value=self.auto_kill, description=_("kill at random automatically"))
        kill.on_click(lambda _button: self.kill_one(wait=0.5))
        auto.observe(lambda change: setattr(self, "auto_kill", bool(change["new"])), names="value")
        self._widgets = {"progress": progress_bar(self.jobs, _("executed")),
                         "status": live(widgets.Label(_("starting"))), "counters": live(widgets.HTML(""))}
        heading = _("chaos: {workers} worker processes on queue {queue} ({pattern})").format(
            workers=self.workers, queue=repr(self.queue), pattern=self.pattern)
        box = widgets.VBox([widgets.HTML(f"<b>{heading}</b>"),
                            widgets.HBox([kill, auto]),
                            widgets.HBox([self._widgets["progress"], self._widgets["status"]]),
                            self._widgets["counters"]])
        box.add_class("lq-panel")
        return box

    def wait(self, timeout: float = 30.0) -> Tally:
        """Wait until drained (or `timeout`), stop the workers with SIGTERM, join the threads; the tally.

        Once it has returned, it returns the same tally again (a re-run cell, even after close())."""
        if self._result is not None:
            return self._result
        deadline = time.monotonic() + timeout
        while not self.drained() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            self._done.set()
        for thread in self._threads:
            thread.join()
        self._stop_workers()
        self._show(self.snapshot())
        self._result = self.tally()
        return self._result

    def _stop_workers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def tally(self) -> Tally:
        """Processed, lost and duplicated jobs, from the execution ledger (HGETALL)."""
        runs = {k: int(v) for k, v in self.redis.hgetall(self.ledger).items()}
        return Tally(jobs=len(self.ids), processed=sum(1 for i in self.ids if runs.get(i, 0) > 0),
                     lost=sum(1 for i in self.ids if runs.get(i, 0) == 0),
                     duplicated=sum(max(runs.get(i, 0) - 1, 0) for i in self.ids), kills=self.kills,
                     dead=int(self.redis.hlen(self.keys.dlq)), seconds=round(time.monotonic() - self._started, 1))

    def close(self) -> None:
        """Kill any worker still running, delete the run's keys, close the client. Idempotent.

        Notebook 10 closes its runs, then stops its server, and at kernel shutdown the cell registry
        closes them again: a second close() does nothing. A first close() after the server is gone
        skips the DEL (the keys went with the server); any other Redis error still propagates."""
        if self._closed:
            return
        self._closed = True
        self._done.set()
        for thread in self._threads:
            _running.join(thread, 5)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        try:
            self.redis.delete(*self.keys.all(), self.ledger, self.busy)
        except redis.ConnectionError:
            pass  # the server is gone, and its keys with it (or unreachable: nothing we can delete)
        finally:
            self.redis.close()
