"""Render the notebooks, executed, to static HTML pages with their outputs (what `make html` runs).

    python -m labqueue.lab.render --out html                 # every notebook of notebooks/ and notebooks/fr/
    python -m labqueue.lab.render --out html notebooks/01_simple_queue.ipynb notebooks/fr/01_simple_queue.ipynb
    python -m labqueue.lab.render --out html --jobs 3        # three notebooks at once (default 2)

Each notebook runs top to bottom in a fresh kernel (nbclient, from the notebook's own folder, on the
backend the environment selects: the embedded fakeredis unless REDIS_URL is set), then nbconvert's
HTMLExporter writes `<out>/<name>.html` with the outputs and the widgets' last state; a notebook of a
subfolder of notebooks/ gets its page in the same subfolder of `<out>`: the French lab
(`notebooks/fr/`) in `<out>/fr/`. Links between notebooks (`01_simple_queue.ipynb`, `../index.ipynb`)
point to the pages (`01_simple_queue.html`, `../index.html`), so the landing pages `index.html` and
`fr/index.html` lead through the lab. A cell that fails stops that notebook's page and the command
exits 1, naming it. The notebook files themselves are never written.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LANGUAGE_FOLDERS = ("fr",)  # notebooks/fr/: the French lab, rendered into <out>/fr/
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LINK = re.compile(r'(href=")(?!https?:|//)([^"#?]+?)\.ipynb([#?][^"]*)?"')


def local_links_to_pages(page: str) -> str:
    """Rewrite relative links to notebooks (`x.ipynb`, `x.ipynb#part`) as links to their pages (`x.html`)."""
    return LINK.sub(lambda m: f'{m.group(1)}{m.group(2)}.html{m.group(3) or ""}"', page)


def page_folder(path: Path, out: Path) -> Path:
    """Where the page of notebook `path` goes: `out`, or its subfolder of notebooks/ under `out` (`out/fr`)."""
    try:
        sub = path.resolve().parent.relative_to(NOTEBOOKS)
    except ValueError:  # a notebook outside notebooks/
        return out
    return out / sub


def default_notebooks() -> list[Path]:
    """Every notebook of notebooks/, then those of the language folders (notebooks/fr/)."""
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    for folder in LANGUAGE_FOLDERS:
        paths += sorted((NOTEBOOKS / folder).glob("*.ipynb"))
    return paths


def _shown(path: Path) -> str:
    """'01_simple_queue.ipynb', 'fr/01_simple_queue.ipynb' (a notebook outside notebooks/: its name)."""
    try:
        return path.resolve().relative_to(NOTEBOOKS).as_posix()
    except ValueError:
        return path.name


def render(path: Path, out: Path, timeout: float = 600) -> Path:
    """Execute notebook `path` in a fresh kernel and write its HTML page into `out`; the page's path."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    if any(cell.cell_type == "code" for cell in nb.cells):  # a text-only page needs no kernel
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    out.mkdir(parents=True, exist_ok=True)
    page = out / f"{path.stem}.html"
    page.write_text(local_links_to_pages(body), encoding="utf-8")
    return page


def _render_timed(path: Path, out: Path, timeout: float) -> tuple[Path, float]:
    start = time.monotonic()
    page = render(path, out, timeout)
    return page, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labqueue.lab.render", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("html"), help="folder for the pages (default: html)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to render (default: all of notebooks/ and notebooks/fr/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    paths = args.notebooks or default_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    failed = []
    # Notebooks mostly wait (live experiments): overlap them, each in a fresh interpreter (spawn, not fork:
    # a forked child would inherit the parent's threads and event loop).
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = {pool.submit(_render_timed, path, page_folder(path, args.out), args.timeout): path for path in paths}
        for done in as_completed(runs):
            path = runs[done]
            try:
                page, seconds = done.result()
            except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
                failed.append(_shown(path))
                text = ANSI.sub("", str(exc)).strip().splitlines()
                print(f"FAILED {_shown(path)}: {type(exc).__name__}:\n  " + "\n  ".join(text[-12:]),
                      file=sys.stderr, flush=True)
                continue
            print(f"{seconds:6.1f} s  {page}", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(paths)} page(s) in {args.out}/ (open {args.out}/index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
