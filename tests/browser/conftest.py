"""Fixtures of the browser test: JupyterLab started the way Binder starts it, and Debian's Chromium.

JupyterLab runs headless on a free port with a random token, through `binder/start` (so the kernels get
a private redis-server and REDIS_URL, as on Binder). Everything it writes goes to a temporary
JUPYTER_CONFIG_DIR and JUPYTER_RUNTIME_DIR: announcements off, autosave off (the notebooks in the repo
are never rewritten), notebooks rendered without windowing (every cell is in the DOM). Chromium is
Debian's /usr/bin/chromium driven by Python Playwright (whose own browser download is not used).
Missing Chromium or Playwright skip the test, except under CI=true, where they fail it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from labqueue.lab.server import free_port
from tests.helpers import alive

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
REQUIRE = os.environ.get("CI") == "true"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT = float(os.environ.get("LABQUEUE_BROWSER_SERVER_TIMEOUT", "180"))

# Settings written into the temporary JUPYTER_CONFIG_DIR (lab/user-settings/<plugin>.jupyterlab-settings).
USER_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def requirement_missing(message: str) -> None:
    """Skip the browser test, or fail it under CI=true."""
    if REQUIRE:
        pytest.fail(message + " [CI=true requires the browser test]", pytrace=False)
    pytest.skip(message)


def chromium_path() -> str | None:
    """Debian's chromium ($LABQUEUE_CHROMIUM overrides), or None."""
    override = os.environ.get("LABQUEUE_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token and what the tests measured."""

    url: str
    token: str
    redis_url: str | None
    log: Path
    timings: list[tuple[str, float, float, str]] = field(default_factory=list)

    def api(self, method: str, path: str) -> Any:
        """One call to the Jupyter server's REST API; the decoded JSON reply (None when empty)."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Delete every session (which shuts its kernel down)."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
        except (OSError, urllib.error.URLError, ValueError):
            pass


def write_jupyter_config(config_dir: Path) -> None:
    """The temporary JUPYTER_CONFIG_DIR: page config (announcements off) and lab user settings."""
    (config_dir / "labconfig").mkdir(parents=True)
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    for plugin, settings in USER_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))


def stop_lab(proc: subprocess.Popen[bytes], lab: Lab | None, tmp: Path) -> None:
    """Stop JupyterLab (kernels first), then anything left in its process group and the redis-server."""
    if lab is not None:
        lab.shutdown_kernels()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pidfile in tmp.glob("labqueue-binder-redis.*/redis.pid"):
        pid = int(pidfile.read_text().strip() or 0)
        if pid > 0 and alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free port with a random token, started through binder/start, rooted at the repo."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    write_jupyter_config(tmp / "config")
    (tmp / "runtime").mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log = ARTIFACTS / "browser" / "jupyterlab.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "LABQUEUE_BINDER_"))}
    env.update({
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "TMPDIR": str(tmp),
        "MPLBACKEND": env.get("MPLBACKEND", "Agg"),
        "PYTHONUNBUFFERED": "1",
    })
    command = [
        str(ROOT / "binder" / "start"), sys.executable, "-m", "jupyter", "lab",
        "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    running: Lab | None = None
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-3000:]
                    pytest.fail(f"JupyterLab did not start (exit code {proc.poll()}); log {log}:\n{tail}")
                time.sleep(0.25)
        redis_url = None
        for line in log.read_text(errors="replace").splitlines():
            if "redis-server ready at " in line:
                redis_url = line.split("redis-server ready at ", 1)[1].split()[0]
        running = Lab(url=url, token=token, redis_url=redis_url, log=log)
        yield running
    finally:
        stop_lab(proc, running, tmp)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (a fresh temporary profile per launch)."""
    executable = chromium_path()
    if executable is None:
        requirement_missing("Chromium is not installed (apt-get install chromium): browser test not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        requirement_missing("Python Playwright is not installed (pip install playwright; its own "
                            "browser download is not needed): browser test not run")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


_TIMINGS: list[tuple[str, float, float, str]] = []


@pytest.fixture
def timings() -> list[tuple[str, float, float, str]]:
    """Where each test appends (notebook, seconds to kernel idle, seconds to run all, outcome)."""
    return _TIMINGS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIMINGS:
        terminalreporter.write_sep("-", "JupyterLab in Chromium: per notebook")
        for name, opened, ran, outcome in _TIMINGS:
            terminalreporter.write_line(f"{name:40s} open+kernel {opened:6.1f} s   run all {ran:6.1f} s   {outcome}")
