"""labqueue.lab.cells: what a notebook cell started is stopped when the cell runs again or fails."""

from __future__ import annotations

import os
import threading

import pytest
from IPython.core.interactiveshell import InteractiveShell

from labqueue import _running
from labqueue.lab import cells
from labqueue.lab.server import RedisServer
from tests.conftest import require_redis_server


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    assert cells.install(), "the registry installs inside an IPython shell"
    yield sh
    cells.stop_all()


def _alive(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


START = """
import fakeredis, labqueue as lq
q = lq.ReliableQueue(fakeredis.FakeRedis(decode_responses=True), "cells-test")
w = lq.Worker(q, {{"work": lambda job: None}}, name="{name}", poll_seconds=0.05).start()
"""


def test_running_a_cell_again_stops_what_its_previous_run_started(shell):
    """Re-running a cell stops the worker its previous run started; the new one keeps running."""
    shell.run_cell(START.format(name="cellsA"), cell_id="cell-a")
    first = shell.user_ns["w"]
    assert _alive("cellsA"), "the worker runs after its cell"
    shell.run_cell(START.format(name="cellsB"), cell_id="cell-a")
    assert not any(t.is_alive() for t in first._threads), "the first run's worker threads still run"
    assert _alive("cellsB") and not _alive("cellsA")
    shell.run_cell("pass", cell_id="cell-b")          # another cell leaves it alone
    assert _alive("cellsB")
    cells.stop_cell("cell cell-a")
    assert not _alive("cellsB")


def test_a_cell_that_fails_or_is_interrupted_stops_what_it_started(shell):
    """A KeyboardInterrupt (or any exception) ending the cell stops the worker it started."""
    shell.run_cell(START.format(name="cellsC") + "raise KeyboardInterrupt\n", cell_id="cell-c")
    assert not _alive("cellsC"), "the interrupted cell's worker still runs"


def test_without_a_cell_id_the_cell_text_names_the_cell(shell):
    """nbval and plain IPython send no cell id: the same text is the same cell."""
    shell.run_cell(START.format(name="cellsD"))
    first = shell.user_ns["w"]
    shell.run_cell(START.format(name="cellsD"))
    assert not any(t.is_alive() for t in first._threads)
    cells.stop_all()
    assert not _alive("cellsD")


def test_join_survives_an_interrupt():
    """_running.join, interrupted, leaves the thread's state intact (Thread.join marks it finished)."""
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), __import__("signal").SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        _running.join(t, 5)
    assert t.is_alive(), "the interrupted wait marked a running thread as finished"
    stop.set()
    assert _running.join(t, 5)


def test_redis_server_survives_a_ctrl_c_to_our_process_group():
    """The private redis-server runs in its own session: a kernel interrupt does not reach it."""
    require_redis_server()
    with RedisServer() as server:
        assert os.getsid(server.proc.pid) != os.getsid(0)
