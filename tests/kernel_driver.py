"""Drive a notebook through a real Jupyter kernel the way a student does: cell by cell, with the cell
id JupyterLab sends, re-running a cell, interrupting one, skipping ahead, two kernels at once.

Used by tests/test_notebook_sessions.py. Each scenario returns a `Verdict` (passed or the sentence why
not) so the test can print the notebook x scenario table the lead needs for the issue's closing note.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def numbered_notebooks() -> list[Path]:
    """Every numbered lesson (00_..., 02a_..., 12_...), derived from the files, never hard-coded."""
    return sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb") if not p.name.startswith("."))


@dataclass
class Reply:
    status: str
    seconds: float
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.ename else self.status


@dataclass
class Verdict:
    passed: bool
    detail: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


_STARTING = threading.Lock()


class Kernel:
    """One ipykernel started on the notebooks folder, with `env` on top of this process' environment."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        full = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LABQUEUE_PREFIX")}
        full.setdefault("MPLBACKEND", "Agg")
        full.update(env or {})
        # Kernels are started one at a time: jupyter_client picks a kernel's five ports by binding and
        # releasing them, so two kernels started at the same moment can pick the same port and one dies
        # before replying to kernel_info (seen in CI). A kernel that dies at start-up, before any cell
        # ran, is started once more; that is the harness's set-up, not the notebook under test.
        for attempt in (1, 2):
            with _STARTING:
                self.km = KernelManager(kernel_name="python3")
                self.km.start_kernel(env=full, cwd=str(NOTEBOOKS))
                self.kc = self.km.blocking_client()
                self.kc.start_channels()
                try:
                    self.kc.wait_for_ready(timeout=120)
                    break
                except RuntimeError:  # "Kernel died before replying to kernel_info"
                    self.kc.stop_channels()
                    if self.km.is_alive():
                        self.km.shutdown_kernel(now=True)
                    if attempt == 2:
                        raise

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def run(self, code: str, cell_id: str | None = None, timeout: float = 240,
            interrupt_after: float | None = None) -> Reply:
        """Execute `code` as JupyterLab would (metadata cellId); optionally SIGINT after some seconds."""
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        msg = self.kc.session.msg("execute_request", content, metadata={"cellId": cell_id} if cell_id else {})
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        start = time.monotonic()
        error: dict[str, Any] = {}
        sent_interrupt = False
        while True:
            now = time.monotonic()
            if now - start > timeout:
                self.km.interrupt_kernel()
                raise TimeoutError(f"cell {cell_id} still running after {timeout:.0f} s")
            if interrupt_after is not None and not sent_interrupt and now - start >= interrupt_after:
                self.km.interrupt_kernel()
                sent_interrupt = True
            wait = 0.05 if interrupt_after is not None and not sent_interrupt else 1.0
            try:
                m = self.kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "error":
                error = m["content"]
            elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
        seconds = time.monotonic() - start
        c: dict[str, Any] = {"status": "error" if error else "ok"}
        try:
            reply = self.kc.get_shell_msg(timeout=30)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = self.kc.get_shell_msg(timeout=30)
            c = reply["content"]
        except queue.Empty:  # an interrupt landing as the cell ends can eat the reply: iopub told us
            pass
        return Reply(status=c["status"], seconds=seconds, ename=c.get("ename", error.get("ename", "")),
                     evalue=c.get("evalue", error.get("evalue", "")),
                     traceback="\n".join(c.get("traceback", error.get("traceback", []))),
                     interrupted=sent_interrupt)

    def threads(self) -> list[str]:
        """The live threads in the kernel, as 'name (module of its code)', the kernel's own left out
        (ipykernel, IPython, and pyzmq's garbage collector that pyzmq starts on a large message)."""
        probe = ("[f'{t.name} ({m})' for t in __import__('threading').enumerate() for m in "
                 "[getattr(getattr(t, '_target', None), '__module__', None) or type(t).__module__] "
                 "if not m.startswith(('ipykernel', 'IPython', 'zmq', 'jupyter_client'))]")
        reply = self.kc.execute_interactive("", silent=True, user_expressions={"t": probe}, timeout=30)
        value = reply["content"]["user_expressions"]["t"]["data"]["text/plain"]
        return list(eval(value, {}))  # a list of str literals the kernel printed with repr()

    def children(self) -> list[str]:
        """The kernel's live child processes (zombies do not count: they are not running)."""
        try:
            procs = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        out = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    out.append(f"{p.pid} {' '.join(p.cmdline())[:80]}")
            except psutil.NoSuchProcess:
                pass
        return out

    def shutdown(self) -> list[str]:
        """Stop the kernel; return the processes it started that outlived it (then kill them)."""
        try:
            kids = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            kids = []
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        _, alive = psutil.wait_procs(kids, timeout=5)
        left = [f"{p.pid}" for p in alive]
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        return left


def code_cells(path: Path) -> list[Any]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _label(cells: list[Any], cell: Any) -> str:
    first = cell.source.strip().splitlines()[0][:50] if cell.source.strip() else ""
    return f"code cell {cells.index(cell) + 1} ({first!r})"


def rerun_twice(path: Path, env: dict[str, str]) -> tuple[Verdict, list[float]]:
    """Every code cell, in order, run twice in a row: both runs pass. Returns each cell's shorter time
    (the second run of an import cell is instant: what is left is the cell's own work)."""
    cells = code_cells(path)
    k = Kernel(env)
    start = time.monotonic()
    times: list[float] = []
    failures: list[str] = []
    try:
        for cell in cells:
            for attempt in (1, 2):
                reply = k.run(cell.source, cell.get("id"))
                if attempt == 1:
                    times.append(reply.seconds)
                else:
                    times[-1] = min(times[-1], reply.seconds)
                if not reply.ok:
                    failures.append(f"{_label(cells, cell)}, run {attempt}: {reply.describe()}")
        return Verdict(not failures, "; ".join(failures), time.monotonic() - start), times
    finally:
        k.shutdown()


def interrupt_longest(path: Path, env: dict[str, str], times: list[float]) -> Verdict:
    """Interrupt one second into the longest cell, run it again, then the rest: all pass, and the kernel
    ends with no more threads than it had before the notebook and no child process."""
    cells = code_cells(path)
    # The first code cell (imports, connection) is left out: an interrupt inside `import numpy` leaves
    # Python's module cache half-initialised, which no notebook can repair (only a kernel restart).
    candidates = range(1, len(cells)) if len(cells) > 1 else range(len(cells))
    longest = max(candidates, key=lambda i: times[i] if i < len(times) else 0.0)
    k = Kernel(env)
    start = time.monotonic()
    notes: list[str] = []
    try:
        before = k.threads()
        for i, cell in enumerate(cells):
            if i == longest:
                reply = k.run(cell.source, cell.get("id"), interrupt_after=min(1.0, times[i] / 2))
                if reply.ename == "KeyboardInterrupt":
                    notes.append(f"interrupted {_label(cells, cell)} after {min(1.0, times[i] / 2):.1f} s")
                elif reply.ok:
                    notes.append(f"{_label(cells, cell)} ended before the interrupt ({reply.seconds:.1f} s)")
                else:
                    return Verdict(False, f"{_label(cells, cell)} interrupted: {reply.describe()}",
                                   time.monotonic() - start, notes)
            reply = k.run(cell.source, cell.get("id"))
            if not reply.ok:
                when = "after the interrupt" if i >= longest else "before the interrupt"
                return Verdict(False, f"{_label(cells, cell)} {when}: {reply.describe()}",
                               time.monotonic() - start, notes)
        deadline = time.monotonic() + 5          # threads asked to stop may need a moment to end
        while True:
            after, kids = k.threads(), k.children()
            extra = sorted(set(after) - set(before)) if len(after) > len(before) else []
            if (not extra and not kids) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if extra or kids:
            return Verdict(False, f"left running: threads {extra} processes {kids}",
                           time.monotonic() - start, notes)
        return Verdict(True, "", time.monotonic() - start, notes)
    finally:
        k.shutdown()


def exercise_pairs(path: Path) -> list[tuple[int, int, str]]:
    """(exercise index, check index, heading above the exercise) among code cells: the pairs tagged
    "exercise"/"check" sharing metadata["labqueue"]["exercise"], else a "# check" cell and the cell before it."""
    nb = nbformat.read(path, as_version=4)
    heading, code_index, headings = "", -1, {}
    tagged: dict[str, dict[str, int]] = {}
    legacy: list[tuple[int, int]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
            continue
        if cell.cell_type != "code":
            continue
        code_index += 1
        headings[code_index] = heading
        tags = set(cell.metadata.get("tags", []))
        name = (cell.metadata.get("labqueue") or {}).get("exercise")
        for role in ("exercise", "check"):
            if role in tags and name:
                tagged.setdefault(str(name), {})[role] = code_index
        if not tags and cell.source.lstrip().lower().startswith("# check") and code_index > 0:
            legacy.append((code_index - 1, code_index))
    pairs = [(v["exercise"], v["check"]) for v in tagged.values() if "exercise" in v and "check" in v]
    return sorted((ex, check, headings[ex]) for ex, check in pairs + legacy)


def check_before_exercise(path: Path, env: dict[str, str]) -> Verdict:
    """Run the notebook without its exercise cells: each check fails with one sentence that names the
    cell to run first ("run the cell under “<heading>” first")."""
    cells = code_cells(path)
    pairs = exercise_pairs(path)
    if not pairs:
        return Verdict(True, "no exercise in this notebook", 0.0, ["no exercise/check pair"])
    exercises = {ex for ex, _, _ in pairs}
    checks = {check: (ex, heading) for ex, check, heading in pairs}
    k = Kernel(env)
    start = time.monotonic()
    failures: list[str] = []
    notes: list[str] = []
    try:
        for i in range(max(checks) + 1):
            if i in exercises:
                continue
            reply = k.run(cells[i].source, cells[i].get("id"))
            if i not in checks:
                if not reply.ok and i < min(exercises):
                    return Verdict(False, f"{_label(cells, cells[i])} before any exercise: {reply.describe()}",
                                   time.monotonic() - start)
                continue
            ex, heading = checks[i]
            wanted = f"run the cell under “{heading}” first"
            if reply.ok:
                failures.append(f"{_label(cells, cells[i])} passed although {_label(cells, cells[ex])} never ran")
            elif wanted not in reply.evalue or reply.evalue.count(". ") or not reply.evalue.endswith("."):
                failures.append(f"{_label(cells, cells[i])}: not one sentence naming the cell to run "
                                f"({wanted!r}): {reply.describe()[:160]}")
            else:
                notes.append(f"{reply.ename}: {reply.evalue}")
        return Verdict(not failures, "; ".join(failures), time.monotonic() - start, notes)
    finally:
        k.shutdown()


def two_kernels(path: Path, env: dict[str, str]) -> Verdict:
    """The notebook top to bottom in two kernels at once on one server: both pass."""
    cells = code_cells(path)
    results: list[str] = ["", ""]

    def one(slot: int) -> None:
        k = Kernel(env)
        try:
            for cell in cells:
                reply = k.run(cell.source, cell.get("id"))
                if not reply.ok:
                    results[slot] = f"kernel {slot + 1}, {_label(cells, cell)}: {reply.describe()}"
                    return
        except Exception as exc:  # a timeout is a failure of this kernel, reported as such
            results[slot] = f"kernel {slot + 1}: {type(exc).__name__}: {exc}"
        finally:
            k.shutdown()

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [r for r in results if r]
    return Verdict(not failed, "; ".join(failed), time.monotonic() - start)
