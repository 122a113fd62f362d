"""The whole test suite, as `make test` runs it (and CI through .ci/run).

1. the unit and reliability tests, each on the embedded fake and on a private redis-server;
2. every notebook, English (notebooks/) and French (notebooks/fr/), with nbval on the embedded fake
   (REDIS_URL unset);
3. the same notebooks with nbval against a private redis-server (REDIS_URL set);
4. every notebook rendered, executed, to a static HTML page (artifacts/html/, the French ones in
   artifacts/html/fr/, as `make html` does);
5. the browser test: JupyterLab in headless Chromium runs every notebook and opens the landing page.

The kernel-session test (tests/test_notebook_sessions.py, in step 1: re-runs, interrupts and restarts of
each notebook) drives the English notebooks only: the French ones have the same code cells
(tests/test_translations.py), so their sessions behave the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labqueue.lab.server import RedisServer, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent


def pytest(args: list[str], env: dict[str, str]) -> int:
    cmd = [sys.executable, "-m", "pytest", *args]
    print("\n$ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


def main() -> int:
    base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    base.setdefault("MPLBACKEND", "Agg")
    folder = ROOT / "notebooks"
    notebooks = [str(p.relative_to(ROOT)) for p in [*sorted(folder.glob("*.ipynb")),
                                                       *sorted((folder / "fr").glob("*.ipynb"))]]
    nbval = ["--nbval-lax", "-p", "no:randomly", "--timeout=300", *notebooks]
    results: list[tuple[str, int, float]] = []

    def step(name: str, args: list[str], env: dict[str, str]) -> None:
        start = time.monotonic()
        code = pytest(args, env)
        results.append((name, code, time.monotonic() - start))

    step("unit and reliability tests (fake + real)", ["tests", "-m", "not browser and not html", "--timeout=900"], base)
    if notebooks:
        step("notebooks (English and French), embedded fakeredis", nbval, base)
        if redis_server_binary() is None and base.get("CI") != "true":
            print("redis-server missing: notebooks not run against a real server")
        else:
            with RedisServer() as server:
                step("notebooks (English and French), real redis-server", nbval, {**base, "REDIS_URL": server.url})
    step("HTML pages of every notebook, English and French (nbconvert, embedded fakeredis)",
         ["tests/test_html_pages.py", "-m", "html", "-p", "no:randomly", "--timeout=1800"], base)
    browser = ROOT / "tests" / "browser"
    if browser.exists():
        step("browser test (JupyterLab in Chromium)", [str(browser), "-m", "browser", "--timeout=1800"], base)

    print("\n==== labqueue test summary ====")
    for name, code, seconds in results:
        print(f"{'PASS' if code == 0 else 'FAIL'} ({code})  {seconds:6.1f} s  {name}")
    failed = [name for name, code, _ in results if code != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
