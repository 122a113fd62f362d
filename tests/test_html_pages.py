"""`make html`: every notebook, executed, as a static HTML page with its outputs (python -m labqueue.lab.render);
the French lab (notebooks/fr/) into html/fr/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labqueue.lab.render import default_notebooks, local_links_to_pages, page_folder

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
FRENCH = sorted((FOLDER / "fr").glob("*.ipynb"))
OUT = ROOT / "artifacts" / "html"


def test_links_to_notebooks_become_links_to_pages():
    """Relative links to notebooks point to their pages; web links and anchors are kept."""
    page = ('<a href="01_simple_queue.ipynb">a</a> <a href="02b_recovery_dlq.ipynb#3.-The-central">b</a> '
            '<a href="https://example.com/x.ipynb">c</a> <a href="#top">d</a>')
    assert local_links_to_pages(page) == (
        '<a href="01_simple_queue.html">a</a> <a href="02b_recovery_dlq.html#3.-The-central">b</a> '
        '<a href="https://example.com/x.ipynb">c</a> <a href="#top">d</a>')
    assert local_links_to_pages('<a href="../index.ipynb">en</a>') == '<a href="../index.html">en</a>'


def test_the_french_notebooks_render_into_their_own_folder():
    """By default the renderer takes the English notebooks then the French ones; a French page goes to <out>/fr/,
    where the links between French pages and '../index.html' (the English lab) work as they do between notebooks."""
    assert default_notebooks() == NOTEBOOKS + FRENCH
    out = Path("html")
    assert page_folder(FOLDER / "01_simple_queue.ipynb", out) == out
    assert page_folder(FOLDER / "fr" / "01_simple_queue.ipynb", out) == out / "fr"
    assert page_folder(Path("notebooks/fr/index.ipynb"), out) == out / "fr"  # relative, as `make html` passes them
    assert page_folder(ROOT / "README.ipynb", out) == out                     # outside notebooks/: no subfolder


@pytest.mark.html
def test_every_notebook_renders_to_a_page_with_its_outputs():
    """One page per notebook in artifacts/html/, each with the outputs of its code cells, no error."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.setdefault("MPLBACKEND", "Agg")
    run = subprocess.run([sys.executable, "-m", "labqueue.lab.render", "--out", str(OUT), "--jobs", "3"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1500)
    print(run.stdout)
    assert run.returncode == 0, run.stderr[-4000:]
    for notebook in NOTEBOOKS + FRENCH:
        page = OUT / notebook.parent.relative_to(FOLDER) / f"{notebook.stem}.html"
        assert page.is_file(), f"no page for {notebook.relative_to(FOLDER)}"
        body = page.read_text(encoding="utf-8")
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
        outputs = len(re.findall(r'class="[^"]*jp-OutputArea-output', body))
        if code:
            assert outputs >= 1, f"{page.name}: no outputs"
        assert "Traceback (most recent call last)" not in body, f"{page.name} shows a traceback"
    index = (OUT / "index.html").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        if notebook.name[:2].isdigit():
            assert f'href="{notebook.stem}.html"' in index, f"index.html does not link {notebook.stem}.html"
    if FRENCH:
        index_fr = (OUT / "fr" / "index.html").read_text(encoding="utf-8")
        for notebook in FRENCH:
            if notebook.name[:2].isdigit():
                assert f'href="{notebook.stem}.html"' in index_fr, f"fr/index.html does not link {notebook.stem}.html"
        assert 'href="../index.html"' in index_fr, "fr/index.html does not lead to the English lab's page"
