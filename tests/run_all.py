"""The whole test suite, as `make test` runs it (and CI through .ci/run).

1. the unit and reliability tests, each on the embedded fake and on a private redis-server;
2. every notebook with nbval on the embedded fake (REDIS_URL unset);
3. every notebook with nbval against a private redis-server (REDIS_URL set);
4. every notebook rendered, executed, to a static HTML page (artifacts/html/, as `make html` does);
5. the browser test: JupyterLab in headless Chromium runs every notebook and opens the landing page.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labqueue.server import RedisServer, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent


def pytest(args: list[str], env: dict[str, str]) -> int:
    cmd = [sys.executable, "-m", "pytest", *args]
    print("\n$ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


def main() -> int:
    base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    base.setdefault("MPLBACKEND", "Agg")
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    nbval = ["--nbval-lax", "-p", "no:randomly", "--timeout=300", *notebooks]
    results: list[tuple[str, int, float]] = []

    def step(name: str, args: list[str], env: dict[str, str]) -> None:
        start = time.monotonic()
        code = pytest(args, env)
        results.append((name, code, time.monotonic() - start))

    step("unit and reliability tests (fake + real)", ["tests", "-m", "not browser and not html", "--timeout=900"], base)
    if notebooks:
        step("notebooks, embedded fakeredis", nbval, base)
        if redis_server_binary() is None and base.get("CI") != "true":
            print("redis-server missing: notebooks not run against a real server")
        else:
            with RedisServer() as server:
                step("notebooks, real redis-server", nbval, {**base, "REDIS_URL": server.url})
    step("HTML pages of every notebook (nbconvert, embedded fakeredis)",
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
