"""The notebooks' exercises: every check can fail, says "not done yet" on the skeleton, passes the solution.

An exercise is a pair of cells sharing `metadata["labqueue"]["exercise"] = "<notebook-stem>/<name>"`:
the exercise cell (tag "exercise", where the student types) and the check cell (tag "check"). Its
solution is `notebooks/solutions/<stem>/<name>.py`; known-wrong answers are
`tests/wrong_solutions/<stem>/<name>__<what>.py`, each opening with `# expect: <regex>`, the
sentence the check must answer with. Every test runs on the embedded fake and on a private
redis-server (conftest's `r`, without its cluster run); the last one executes whole notebooks with every solution filled in.

The French lab (notebooks/fr/, solutions in notebooks/fr/solutions/) is held to the same with French on
(`use_language("fr")`, as its notebooks' first cell): each check names the French heading, says "pas encore
fait" on the skeleton, passes the French solution in French, and each French solution has the code of its
English twin once comments and strings are set aside. These tests run over the French files that exist.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fakeredis
import nbformat
import pytest

from labqueue.lab import checks
from tests.test_translations import code_shape

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
FRENCH = NOTEBOOKS / "fr"
SOLUTIONS_FR = FRENCH / "solutions"
WRONG = Path(__file__).resolve().parent / "wrong_solutions"


@pytest.fixture(params=["fake", "real"])
def backend(request: pytest.FixtureRequest) -> str:
    """The notebooks' two backends (embedded fakeredis, a private redis-server): the exercises are
    written for one Redis, not for a Cluster (their keys carry no hash tag), so no cluster run here."""
    return str(request.param)


def exercise_cells(folder: Path = NOTEBOOKS) -> dict[str, dict[str, Any]]:
    """Exercise id -> {"notebook", "exercise", "check" (cell sources), "heading" above the exercise cell}."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, 4)
        heading = ""
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("#"):
                        heading = line.lstrip("#").strip()
            ex = cell.metadata.get("labqueue", {}).get("exercise")
            if not ex:
                continue
            kinds = [t for t in cell.metadata.get("tags", []) if t in ("exercise", "check")]
            assert len(kinds) == 1, f"{path.name}: a cell of exercise {ex} is tagged {kinds}"
            entry = found.setdefault(ex, {"notebook": path})
            assert kinds[0] not in entry, f"{path.name}: two {kinds[0]} cells for exercise {ex}"
            entry[kinds[0]] = cell.source
            if kinds[0] == "exercise":
                entry["heading"] = heading
    return found


EXERCISES = exercise_cells()
EXERCISES_FR = exercise_cells(FRENCH)
SOLUTION_FILES_FR = sorted(SOLUTIONS_FR.glob("*/*.py"))
WRONGS = sorted(WRONG.glob("*/*.py"))


def wrong_cases() -> list[Any]:
    cases = []
    for path in WRONGS:
        ex = f"{path.parent.name}/{path.stem.split('__')[0]}"
        cases.append(pytest.param(ex, path, id=f"{ex}__{path.stem.split('__')[1]}"))
    return cases


def run_cell(source: str, ns: dict[str, Any]) -> str:
    """Execute a cell's source in `ns` (as the kernel would); return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<cell>", "exec"), ns)
    return out.getvalue()


def scraped_body() -> str:
    """A Prometheus exposition like notebook 07's scrape: the send-email processing-time histogram."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    registry = CollectorRegistry()
    h = Histogram("queue_processing_duration_seconds", "Job processing time", ["job_type"], registry=registry)
    for ms in [2, 3, 3, 4, 5, 6, 7, 8, 9, 12] * 10 + [30, 60]:
        h.labels(job_type="send-email").observe(ms / 1000)
    return generate_latest(registry).decode()


# what an exercise or check cell finds in its notebook's kernel besides `r`, `lq` and `time`
NOTEBOOK_STATE = {
    "10_chaos/duplicates": lambda: {"run": SimpleNamespace(concurrency=2),
                                    "result": SimpleNamespace(kills=3, duplicated=2)},
    "07_monitoring/p95": lambda: {"body": scraped_body(),
                                  "text_string_to_metric_families": __import__(
                                      "prometheus_client.parser", fromlist=["x"]).text_string_to_metric_families},
}


def namespace(r: Any, ex: str = "") -> dict[str, Any]:
    """What an exercise or check cell finds in a notebook's kernel: the client `r`, `lq`, `time`, and
    for a few exercises the notebook's own state (NOTEBOOK_STATE)."""
    import time

    import labqueue

    return {"r": r, "lq": labqueue, "time": time, **NOTEBOOK_STATE.get(ex, dict)()}


def solution(ex: str, folder: Path = SOLUTIONS) -> str:
    return (folder / f"{ex}.py").read_text(encoding="utf-8")


def test_every_exercise_is_complete():
    """Each exercise has one exercise cell, one check cell after it, a solution and a known-wrong answer."""
    assert len(EXERCISES) >= 2
    wrong_for = {f"{p.parent.name}/{p.stem.split('__')[0]}" for p in WRONGS}
    for ex, cells in EXERCISES.items():
        assert cells["notebook"].stem == ex.split("/")[0], f"{ex} lives in {cells['notebook'].name}"
        assert "exercise" in cells and "check" in cells, f"{ex} needs an exercise cell and a check cell"
        assert (SOLUTIONS / f"{ex}.py").is_file(), f"no solution notebooks/solutions/{ex}.py"
        assert ex in wrong_for, f"no known-wrong answer tests/wrong_solutions/{ex}__*.py: a check must be seen failing"
        assert f"# %load solutions/{ex}.py" in cells["exercise"], f"{ex}: the solution is revealed on purpose only"
    assert not wrong_for - set(EXERCISES), f"wrong answers for unknown exercises: {wrong_for - set(EXERCISES)}"


def test_every_pattern_notebook_has_a_build_it_exercise():
    """At least eight build-it exercises (a skeleton raising NotImplementedError), one in each of 01 to 07."""
    build_it = sorted(ex for ex, cells in EXERCISES.items() if "raise NotImplementedError" in cells["exercise"])
    assert len(build_it) >= 8, build_it
    for number in ("01", "02", "03", "04", "05", "06", "07"):
        assert any(ex.startswith(number) for ex in build_it), f"no build-it exercise in notebook {number}: {build_it}"


@pytest.mark.parametrize("ex", sorted(EXERCISES))
def test_check_run_before_its_exercise_names_the_cell(ex):
    """A check run before its exercise cell fails with one sentence naming the cell to run first."""
    cells = EXERCISES[ex]
    with pytest.raises(checks.CheckFailed) as info:
        run_cell(cells["check"], namespace(fakeredis.FakeRedis(decode_responses=True)))
    message = str(info.value)
    assert f"run the cell under “{cells['heading']}” first" in message, message
    assert message.count(". ") == 0 and message.endswith("."), f"one sentence: {message}"


@pytest.mark.parametrize("ex", sorted(EXERCISES))
def test_skeleton_says_not_done_yet(ex, r):
    """With the committed skeleton the check prints "not done yet" and raises nothing."""
    ns = namespace(r, ex)
    run_cell(EXERCISES[ex]["exercise"], ns)
    printed = run_cell(EXERCISES[ex]["check"], ns)
    assert "not done yet" in printed and "✓" not in printed, printed
    assert printed.count("\n") == 1, f"a check says nothing more (no measured answer) before it is done: {printed}"


@pytest.mark.parametrize("ex", sorted(EXERCISES))
def test_solution_passes_and_passes_again(ex, r):
    """The solution passes its check, and the check re-run right after passes again."""
    ns = namespace(r, ex)
    run_cell(solution(ex), ns)
    for _ in range(2):
        printed = run_cell(EXERCISES[ex]["check"], ns)
        assert printed.startswith("✓") and "not done" not in printed, printed


@pytest.mark.parametrize(("ex", "path"), wrong_cases())
def test_known_wrong_answer_is_rejected_with_its_reason(ex, path, r):
    """A known-wrong answer fed to the check is rejected with the sentence that explains it."""
    source = path.read_text(encoding="utf-8")
    expect = re.match(r"# expect: (.+)\n", source)
    assert expect, f"{path.name} must open with '# expect: <regex>'"
    ns = namespace(r, ex)
    run_cell(source, ns)
    with pytest.raises(checks.CheckFailed) as info:
        run_cell(EXERCISES[ex]["check"], ns)
    assert re.search(expect.group(1), str(info.value)), f"{path.name}: the check said: {info.value}"


FRENCH_WORDS = {"le", "la", "les", "des", "du", "un", "une", "est", "pas", "avec", "dans", "sur", "votre", "vous",
                "et", "a", "ont", "été", "ne", "au", "que", "qui", "d'abord", "jamais", "fois"}
ENGLISH_WORDS = {"the", "is", "was", "were", "with", "your", "you", "and", "not", "should", "of", "it", "in", "to",
                 "than", "but", "first", "never", "times"}


def speaks_french(text: str) -> bool:
    """More French little words than English ones (the checks' sentences, not their data or code)."""
    words = re.findall(r"[a-zà-ÿ']+", text.lower())
    return sum(w in FRENCH_WORDS for w in words) > sum(w in ENGLISH_WORDS for w in words)


@pytest.fixture
def in_french():
    """use_language("fr") for the test, the language before it restored after."""
    from labqueue.lab import i18n

    before = i18n._chosen
    i18n.use_language("fr")
    yield
    i18n._chosen = before


# other right ways to write 02a's dequeue: each moves the job from waiting to processing in one atomic step
ATOMIC_DEQUEUES = {
    "lmove": 'return self.r.lmove(self.waiting, self.processing, "RIGHT", "LEFT")',
    "rpoplpush": "return self.r.rpoplpush(self.waiting, self.processing)",
    "brpoplpush": "return self.r.brpoplpush(self.waiting, self.processing, timeout)",
    "lua": ('return self.r.register_script("local e = redis.call(\'RPOP\', KEYS[1]) '
            'if e then redis.call(\'LPUSH\', KEYS[2], e) end return e")(keys=[self.waiting, self.processing])'),
    "watch_multi": """import redis
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.waiting)
                    entry = pipe.lindex(self.waiting, -1)
                    if entry is None:
                        return None
                    pipe.multi()
                    pipe.rpop(self.waiting)
                    pipe.lpush(self.processing, entry)
                    pipe.execute()
                    return entry
                except redis.WatchError:
                    continue""",
}


@pytest.mark.parametrize("how", sorted(ATOMIC_DEQUEUES))
def test_every_atomic_dequeue_passes_the_reliable_queue_check(how, r):
    """02a's check asks for one atomic move, not for BLMOVE: LMOVE, RPOPLPUSH, BRPOPLPUSH, a Lua script and
    a WATCH + MULTI/EXEC transaction pass it as the solution's BLMOVE does."""
    ex = "02a_reliable_queue/my_reliable_queue"
    blmove = 'return self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")'
    source = solution(ex)
    assert blmove in source, "the solution's dequeue changed: update ATOMIC_DEQUEUES' anchor"
    ns = namespace(r, ex)
    run_cell(source.replace(blmove, ATOMIC_DEQUEUES[how]), ns)
    printed = run_cell(EXERCISES[ex]["check"], ns)
    assert printed.startswith("✓"), printed


@pytest.mark.parametrize(("lang", "moved", "words"), [
    ("en", 1, "moved 1 job: job-00's lease"), ("en", 2, "moved 2 jobs: job-00's lease"),
    ("fr", 1, "a déplacé 1 job : le bail de job-00"), ("fr", 2, "a déplacé 2 jobs : le bail de job-00"),
    ("en", None, "returned None: job-00's lease"), ("fr", True, "a renvoyé True : le bail de job-00")])
def test_an_early_recovery_is_told_with_the_plural_its_count_needs(lang: str, moved: Any, words: str) -> None:
    """recover(now) that moved a job too early: the count the student's recover() returned takes the
    singular or the plural in each language ("moved 1 jobs" before); a value that is no count is echoed."""
    from labqueue.lab import i18n
    from labqueue.lab.checks.reliable import recovered_too_early

    before = i18n._chosen
    i18n.use_language(lang)
    try:
        message = recovered_too_early(moved, "job-00")
    finally:
        i18n._chosen = before
    assert words in message, message


@pytest.mark.parametrize(("ex", "path"), wrong_cases())
def test_known_wrong_answer_is_rejected_in_french(ex, path, r, in_french):
    """With French on (a French notebook's first cell), the same wrong answer still fails, and the verdict is French."""
    ns = namespace(r, ex)
    run_cell(path.read_text(encoding="utf-8"), ns)
    with pytest.raises(checks.CheckFailed) as info:
        run_cell(EXERCISES[ex]["check"], ns)
    assert speaks_french(str(info.value)), f"{path.name}: the check answered in English: {info.value}"


def test_speaks_french_tells_the_languages_apart():
    assert speaks_french("le job {job} a été perdu : il a quitté Redis au dequeue")
    assert not speaks_french("job job-03 was lost: it left Redis at dequeue and the worker died")


def with_solutions(path: Path, folder: Path = SOLUTIONS) -> Any:
    """The notebook with every exercise cell replaced by its solution (from `folder`)."""
    nb = nbformat.read(path, 4)
    for cell in nb.cells:
        ex = cell.metadata.get("labqueue", {}).get("exercise")
        if ex and "exercise" in cell.metadata.get("tags", []):
            cell.source = solution(ex, folder)
    return nb


def run_with_solutions(path: Path, folder: Path, backend: str, request: Any, monkeypatch: Any) -> list[str]:
    """Execute the notebook at `path` with the solutions of `folder` on `backend`; the check cells' printed text."""
    from nbclient import NotebookClient

    if backend == "real":
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_server").url)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = with_solutions(path, folder)
    start = time.monotonic()
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.monotonic() - start
    printed = []
    for cell in nb.cells:
        if "check" in cell.metadata.get("tags", []):
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            assert "✓" in text and "not done" not in text, f"{path.name} {cell.metadata['labqueue']}: {text}"
            printed.append(text)
    print(f"{path.relative_to(NOTEBOOKS)} with solutions on {backend}: {seconds:.1f} s", file=os.sys.stderr)
    return printed


@pytest.mark.parametrize("path", sorted({c["notebook"] for c in EXERCISES.values()}), ids=lambda p: p.name)
def test_notebook_runs_with_every_solution_and_every_check_passes(path, backend, request, monkeypatch):
    """The whole notebook, solutions filled in, runs top to bottom and every check cell prints ✓."""
    run_with_solutions(path, SOLUTIONS, backend, request, monkeypatch)


# ---- the French lab: the same exercises, in French -------------------------------------------------------

def test_french_exercises_are_those_of_their_english_twins():
    """A French notebook has the exercises of its English twin, each with its French solution, revealed on purpose only."""
    for ex, cells in EXERCISES_FR.items():
        assert ex in EXERCISES, f"French exercise {ex} has no English twin"
        assert cells["notebook"].name == EXERCISES[ex]["notebook"].name, f"{ex} lives in fr/{cells['notebook'].name}"
        assert "exercise" in cells and "check" in cells, f"fr: {ex} needs an exercise cell and a check cell"
        assert (SOLUTIONS_FR / f"{ex}.py").is_file(), f"no French solution notebooks/fr/solutions/{ex}.py"
        assert f"# %load solutions/{ex}.py" in cells["exercise"], f"fr: {ex}: the solution is revealed on purpose only"
    for path in {c["notebook"] for c in EXERCISES_FR.values()}:
        english = {ex for ex, c in EXERCISES.items() if c["notebook"].name == path.name}
        french = {ex for ex, c in EXERCISES_FR.items() if c["notebook"] == path}
        assert french == english, f"fr/{path.name} has exercises {sorted(french)}, its English twin {sorted(english)}"


@pytest.mark.parametrize("ex", sorted(EXERCISES_FR))
def test_french_check_run_before_its_exercise_names_the_french_cell(ex, in_french):
    """In French, a check run before its exercise cell names the French heading above that cell, in one sentence."""
    cells = EXERCISES_FR[ex]
    with pytest.raises(checks.CheckFailed) as info:
        run_cell(cells["check"], namespace(fakeredis.FakeRedis(decode_responses=True)))
    message = str(info.value)
    assert f"exécutez d'abord la cellule sous « {cells['heading']} »" in message, (
        f"{message}\n(the check names the cell through labqueue/lab/locale/fr/LC_MESSAGES/checks.po: its French "
        f"for the English heading must be the French notebook's heading, word for word)")
    assert message.count(". ") == 0 and message.endswith("."), f"one sentence: {message}"


@pytest.mark.parametrize("ex", sorted(EXERCISES_FR))
def test_french_skeleton_says_not_done_yet_in_french(ex, r, in_french):
    """With the French skeleton the check prints « pas encore fait », one line, and raises nothing."""
    ns = namespace(r, ex)
    run_cell(EXERCISES_FR[ex]["exercise"], ns)
    printed = run_cell(EXERCISES_FR[ex]["check"], ns)
    assert "pas encore fait" in printed and "✓" not in printed, printed
    assert printed.count("\n") == 1, f"a check says nothing more (no measured answer) before it is done: {printed}"


@pytest.mark.parametrize("ex", sorted(EXERCISES_FR))
def test_french_solution_passes_in_french_and_passes_again(ex, r, in_french):
    """The French solution passes its check with French on, the verdict is French, and a re-run passes again."""
    ns = namespace(r, ex)
    run_cell(solution(ex, SOLUTIONS_FR), ns)
    for _ in range(2):
        printed = run_cell(EXERCISES_FR[ex]["check"], ns)
        assert printed.startswith("✓") and "pas encore fait" not in printed, printed
        assert speaks_french(printed), f"the check passed in English: {printed}"


@pytest.mark.parametrize("path", SOLUTION_FILES_FR, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_french_solution_has_the_code_of_its_english_twin(path):
    """notebooks/fr/solutions/<stem>/<name>.py is its English twin's code: only comments and strings differ."""
    english = SOLUTIONS / path.parent.name / path.name
    assert english.is_file(), f"French solution {path.relative_to(NOTEBOOKS)} has no English twin {english.name}"
    assert code_shape(path.read_text(encoding="utf-8")) == code_shape(english.read_text(encoding="utf-8")), (
        f"{path.relative_to(NOTEBOOKS)}: the code differs from {english.relative_to(NOTEBOOKS)} beyond comments "
        f"and strings")


@pytest.mark.parametrize("path", sorted({c["notebook"] for c in EXERCISES_FR.values()}), ids=lambda p: p.name)
def test_french_notebook_runs_with_every_french_solution_and_every_check_passes_in_french(
        path, backend, request, monkeypatch):
    """The whole French notebook (its first cell says use_language("fr")), French solutions filled in, runs top
    to bottom and every check cell prints ✓ in French."""
    for text in run_with_solutions(path, SOLUTIONS_FR, backend, request, monkeypatch):
        assert speaks_french(text), f"fr/{path.name}: a check passed in English: {text}"


# other right ways to write 03's dequeue: each takes the lowest score in one atomic step, or sees that it lost it
ATOMIC_PRIORITY_DEQUEUES = {
    "bzpopmin": "popped = self.r.bzpopmin(self.key, timeout=0.01)\n        popped = [popped[1:]] if popped else []",
    "lua": ("popped = self.r.register_script(\"local m = redis.call('ZRANGE', KEYS[1], 0, 0) "
            "if m[1] then redis.call('ZREM', KEYS[1], m[1]) return {{m[1], '0'}} end return {}\")(keys=[self.key])"),
    "zrem_checked": """while True:
            first = self.r.zrange(self.key, 0, 0)
            if not first:
                return None
            if self.r.zrem(self.key, first[0]) == 1:
                return json.loads(first[0])""",
}


@pytest.mark.parametrize("how", sorted(ATOMIC_PRIORITY_DEQUEUES))
def test_every_atomic_dequeue_passes_the_priority_queue_check(how, r):
    """03's check interleaves a second worker between the first one's commands: a dequeue that takes the job
    atomically (BZPOPMIN with a timeout, a Lua script) or checks ZREM's reply and retries passes it as ZPOPMIN does."""
    ex = "03_priority_queue/my_priority_queue"
    zpopmin = "popped = self.r.zpopmin(self.key)"
    source = solution(ex)
    assert zpopmin in source, "the solution's dequeue changed: update ATOMIC_PRIORITY_DEQUEUES' anchor"
    ns = namespace(r, ex)
    run_cell(source.replace(zpopmin, ATOMIC_PRIORITY_DEQUEUES[how]), ns)
    printed = run_cell(EXERCISES[ex]["check"], ns)
    assert printed.startswith("✓"), printed
