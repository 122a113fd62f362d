"""08a and 08b show the chapter's Bull code in its own JavaScript: every block is the chapter's lines."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from labqueue.lab import chapter

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"\(([^()]*?), lines ([\d–, ]+) of the chapter\):\n\n```javascript\n(.*?)\n```", re.S)


def chapter_lines() -> list[str]:
    candidates = [os.environ.get("LABQUEUE_CHAPTER", "")]
    candidates += [str(p / "shared" / "seed" / chapter.CHAPTER) for p in ROOT.parents]
    path = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{chapter.CHAPTER} not found: set LABQUEUE_CHAPTER")
        pytest.skip(f"{chapter.CHAPTER} not found (set LABQUEUE_CHAPTER)")
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name, expected", [("08a_production_queue", 5), ("08b_production_operations", 5)])
def test_javascript_blocks_are_the_chapters_lines_verbatim(name, expected):
    """Each JavaScript block is, line for line, the chapter's lines it names; each is followed by Python."""
    lines = chapter_lines()
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", 4)
    found = 0
    for i, cell in enumerate(nb.cells):
        for title, ranges, code in BLOCK.findall(cell.source):
            parts = code.split("\n\n// ...\n\n")
            spans = [tuple(int(x) for x in r.split("–")) for r in ranges.split(", ")]
            assert len(parts) == len(spans), f"{name} {title}: {len(parts)} parts for {ranges}"
            for part, (first, last) in zip(parts, spans):
                assert part == "\n".join(lines[first - 1:last]).strip("\n"), f"{name} {title}: lines {first}-{last}"
            assert nb.cells[i + 1].cell_type == "code", f"{name} {title}: no Python port right after it"
            found += 1
    assert found == expected, f"{name}: {found} JavaScript blocks, expected {expected}"
