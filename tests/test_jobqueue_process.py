"""JobQueue.process() when its worker was stopped from outside, or when a KeyboardInterrupt lands inside
it (a notebook cell interrupted while its worker starts: the kernel-session test's interrupt of notebook
08a's worker cell). Whatever the interrupt stopped, process() again must run jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from labqueue import _running
from labqueue.jobqueue import JobQueue
from labqueue.worker import Worker


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def worker_threads(before: set[threading.Thread]) -> list[str]:
    """Worker threads (and heartbeats) started since `before`, still alive."""
    return [t.name for t in threading.enumerate() if t not in before and t.name.startswith("worker-")]


@pytest.fixture
def announced() -> Iterator[list[tuple[Any, Callable[[], None]]]]:
    """What labqueue._running is told of (as labqueue.lab.cells files it per cell); the listener restored."""
    before = _running._listener
    seen: list[tuple[Any, Callable[[], None]]] = []
    _running.listen(lambda obj, stop: seen.append((obj, stop)))
    yield seen
    _running.listen(before)


def stop_as_a_failed_cell_does(seen: list[tuple[Any, Callable[[], None]]]) -> None:
    """labqueue.lab.cells.stop_cell: newest first."""
    for _, stop in reversed(seen):
        stop()


def test_process_after_its_worker_was_stopped_starts_a_new_one(r: Any) -> None:
    """A worker stopped by its own stop() (what a notebook cell's cleanup calls) is not reused: the old
    code added threads to it, which ended at once, and the job waited forever."""
    q = JobQueue(r, "process-restart", lease_seconds=1.0)
    first = q.process("j", lambda job: None, poll_seconds=0.05)
    first.stop(timeout=5)
    job_id = q.add("j", {})
    second = q.process("j", lambda job: "ran", poll_seconds=0.05)
    try:
        assert second is not first and second is q.worker and not second.stopped
        assert wait_for(lambda: q.get_job_counts()["completed"] == 1), q.get_job_counts()
        assert q.get_job(job_id).return_value == "ran"  # type: ignore[union-attr]
    finally:
        q.close()


def test_adding_threads_to_a_stopped_worker_is_refused(r: Any) -> None:
    """add_threads() on a stopped worker says so, rather than starting threads that take no job."""
    q = JobQueue(r, "process-refused", lease_seconds=1.0)
    worker = Worker(q, {"j": lambda job: None}, name="refused", poll_seconds=0.05).start()
    worker.stop(timeout=5)
    with pytest.raises(RuntimeError, match="refused is stopped"):
        worker.add_threads(2)
    assert worker.alive == 0
    worker.start()  # started again, it takes more threads
    worker.add_threads(1)
    assert worker.alive == 2
    worker.stop(timeout=5)


@pytest.mark.parametrize("where", ["after the worker announced itself", "while the worker's threads start"])
def test_an_interrupt_inside_process_stops_everything_and_process_runs_again(
        r: Any, announced: list[tuple[Any, Callable[[], None]]], monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """KeyboardInterrupt inside process(), then what it announced is stopped (the interrupted cell's
    cleanup): no worker thread runs on, the queue forgets its worker, and process() again (the cell
    run again) runs the jobs, a delayed retry included. The old code announced the worker only after
    starting its threads (they ran on, unowned, without heartbeat) and announced process()'s stop last
    (the queue kept the stopped worker: the cell run again added threads to it that ended at once,
    and settle() saw the retry stay delayed: notebook 08a's flaky interrupt)."""
    q = JobQueue(r, "process-interrupted", lease_seconds=1.0,
                 default_job_options={"attempts": 2, "backoff": {"type": "fixed", "delay": 0.2}})
    q.add("j", {"n": 1})
    before = set(threading.enumerate())
    if where.startswith("after"):
        record = announced.append

        def interrupt(obj: Any, stop: Callable[[], None]) -> None:
            record((obj, stop))
            if isinstance(obj, Worker):
                raise KeyboardInterrupt
        monkeypatch.setattr(_running, "_listener", interrupt)
    else:
        original = Worker.add_threads

        def interrupted(self: Worker, n: int, counted: bool = True) -> None:
            original(self, n, counted)
            raise KeyboardInterrupt
        monkeypatch.setattr(Worker, "add_threads", interrupted)
    with pytest.raises(KeyboardInterrupt):
        q.process("j", lambda job: None, concurrency=3, poll_seconds=0.05)
    monkeypatch.undo()
    stop_as_a_failed_cell_does(announced)
    assert wait_for(lambda: not worker_threads(before), 2), f"left running: {worker_threads(before)}"
    assert q.worker is None

    tries: list[int] = []

    def flaky(job: Any) -> str:
        tries.append(job.attempts_made)
        if job.attempts_made == 0:
            raise ConnectionError("SMTP timeout")  # retried in 0.2 s: the job waits in `delayed`
        return "sent"

    again = q.add("j", {"n": 2})
    q.process("j", flaky, concurrency=3, poll_seconds=0.05)
    try:
        assert wait_for(lambda: q.get_job(again).state == "completed"), (  # type: ignore[union-attr]
            f"{q.get_job_counts()}, tries {tries}")
        assert 0 in tries and 1 in tries
    finally:
        q.close()


SPY = """
import sys, threading
import labqueue
from labqueue.jobqueue import JobQueue
q = JobQueue(labqueue.connect(), "import-spy", lease_seconds=1.0)
loaded = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is threading.main_thread():
            loaded.append(name)
        return None
sys.meta_path.insert(0, Spy())
q.process("j", lambda job: None, poll_seconds=0.05)
sys.meta_path.pop(0)
q.close()
print(loaded)
"""


def test_process_imports_nothing() -> None:
    """The first process() imported labqueue.worker: in notebook 08a that import ran inside the
    interrupted cell, and a SIGINT landing in it while a dataclass was built came out as
    "RuntimeError: Error calling __set_name__" (Python 3.11), not KeyboardInterrupt. Importing
    labqueue.jobqueue loads what process() needs (a fresh interpreter, the embedded fakeredis)."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    out = subprocess.run([sys.executable, "-c", SPY], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"modules imported by process() in the main thread: {out.stdout.strip()}"
