"""The Makefile's commands: `make lab` works as root (containers, classroom VMs) and opens the landing page."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from labqueue.lab.server import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_dry_run(target: str, uid: int | None = None, tmp: Path | None = None) -> list[list[str]]:
    """The commands `make -n target` prints, split; with `uid`, as if `id -u` printed it."""
    env = dict(os.environ)
    if uid is not None:
        assert tmp is not None
        fake = tmp / "bin"
        fake.mkdir(exist_ok=True)
        (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (fake / "id").chmod(0o755)
        env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    out = subprocess.run(["make", "-n", target], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]


def jupyter_lab_line(commands: list[list[str]]) -> list[str]:
    lines = [c for c in commands if len(c) > 1 and c[0].endswith("jupyter") and c[1] == "lab"]
    assert len(lines) == 1, commands
    return lines[0]


def test_make_lab_passes_allow_root_only_as_root(tmp_path):
    """As root `make lab` adds --allow-root (JupyterLab refuses root without it); as a user it does not."""
    as_root = jupyter_lab_line(make_dry_run("lab", uid=0, tmp=tmp_path))
    as_user = jupyter_lab_line(make_dry_run("lab", uid=1000, tmp=tmp_path))
    assert "--allow-root" in as_root, as_root
    assert "--allow-root" not in as_user, as_user
    assert [a for a in as_root if a != "--allow-root"] == as_user


def test_make_lab_opens_the_landing_page(tmp_path):
    """`make lab` serves notebooks/ and opens the landing page, which exists."""
    line = jupyter_lab_line(make_dry_run("lab"))
    assert "notebooks/" in line
    assert "--LabApp.default_url=/lab/tree/index.ipynb" in line
    assert (ROOT / "notebooks" / "index.ipynb").is_file()


def test_make_lab_command_starts_jupyterlab_here(tmp_path):
    """The command `make lab` runs starts JupyterLab for this user (root included) and redirects to the landing page."""
    line = jupyter_lab_line(make_dry_run("lab"))
    port, token = free_port(), secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
                "JUPYTER_DATA_DIR": str(tmp_path / "data")})
    command = [sys.executable, "-m", "jupyter", *line[1:], "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start (exit {proc.poll()}, uid {os.getuid()}):\n"
                                f"{log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.25)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"http://127.0.0.1:{port}/?token={token}", timeout=5)
        assert redirect.value.code == 302
        assert redirect.value.headers["Location"].split("?")[0].endswith("/lab/tree/index.ipynb")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_make_html_renders_into_an_ignored_folder():
    """`make html` runs the renderer into html/, a folder git ignores."""
    line = [c for c in make_dry_run("html") if "labqueue.lab.render" in c]
    assert line and line[0][line[0].index("--out") + 1] == "html", line
    ignored = subprocess.run(["git", "check-ignore", "-q", "html/index.html"], cwd=ROOT)
    assert ignored.returncode == 0, "html/ is not git-ignored"


def test_make_lab_fr_opens_the_french_landing_page(tmp_path):
    """`make lab-fr` is `make lab` on the French landing page (README.fr.md), which exists; root too."""
    line = jupyter_lab_line(make_dry_run("lab-fr"))
    assert "notebooks/" in line
    assert "--LabApp.default_url=/lab/tree/fr/index.ipynb" in line
    assert (ROOT / "notebooks" / "fr" / "index.ipynb").is_file()
    as_root = jupyter_lab_line(make_dry_run("lab-fr", uid=0, tmp=tmp_path))
    assert "--allow-root" in as_root, as_root
