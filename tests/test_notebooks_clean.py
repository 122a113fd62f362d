"""The committed notebooks, English and French (notebooks/fr/): no outputs (readable diffs), valid nbformat,
and every one is a lesson."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
ENGLISH = sorted(FOLDER.glob("*.ipynb"))
NOTEBOOKS = ENGLISH + sorted((FOLDER / "fr").glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if p.name[:2].isdigit()]  # dashboard.ipynb is a Voila app, not a lesson


def name(path: Path) -> str:
    """'01_simple_queue.ipynb', 'fr/01_simple_queue.ipynb'."""
    return path.relative_to(FOLDER).as_posix()


def test_there_are_notebooks():
    """The lab has its notebooks."""
    assert len([p for p in ENGLISH if p.name[:2].isdigit()]) >= 12, [p.name for p in ENGLISH]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=name)
def test_committed_without_outputs(path):
    """A committed notebook carries no outputs and no execution counts."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs (jupyter nbconvert --clear-output --inplace)"


@pytest.mark.parametrize("path", LESSONS, ids=name)
def test_is_a_lesson_with_asserts(path):
    """Each notebook mixes text and code, shows its backend and asserts what it teaches."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    kinds = [cell["cell_type"] for cell in nb["cells"]]
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3
    assert "assert " in code, f"{path.name} asserts nothing"
    assert "backend_line(" in code, f"{path.name} does not show its backend and whose queue names it uses"
