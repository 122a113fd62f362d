"""Binder: `binder/start` gives the command a private, working REDIS_URL; binder/ agrees with the repo.

The start script is run the way repo2docker runs it (`binder/start <command>`), with TMPDIR pointing
into the test's temp folder, so the server's data folder and pid file are ours to find and clean up.
The shared Redis on 127.0.0.1:6379 of a dev machine is never connected to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import alive

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
START = BINDER / "start"
REQUIRE = os.environ.get("CI") == "true"

CHILD = r"""
import json, os, redis
url = os.environ["REDIS_URL"]
client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
client.set("labqueue:binder:probe", "ok")
print(json.dumps({
    "url": url,
    "ping": client.ping(),
    "get": client.get("labqueue:binder:probe"),
    "pid": int(os.environ["LABQUEUE_BINDER_REDIS_PID"]),
    "server_pid": int(client.info("server")["process_id"]),
    "port": client.connection_pool.connection_kwargs["port"],
    "save": client.config_get("save")["save"],
    "appendonly": client.config_get("appendonly")["appendonly"],
    "dir": client.config_get("dir")["dir"],
}))
"""


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port (connects, sends nothing)."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments and blank lines."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@pytest.fixture
def sandbox_tmp(tmp_path: Path) -> Iterator[Path]:
    """A TMPDIR for binder/start; afterwards every redis-server it recorded is killed."""
    yield tmp_path
    for pidfile in tmp_path.glob("labqueue-binder-redis.*/redis.pid"):
        pid = int(pidfile.read_text().strip() or 0)
        if pid > 0 and alive(pid):
            os.kill(pid, signal.SIGKILL)


def run_start(command: list[str], tmp: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `binder/start <command>` as repo2docker does, from the repository root, without REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "LABQUEUE_BINDER_"))}
    env["TMPDIR"] = str(tmp)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([str(START), *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_binder_start_gives_the_command_a_private_working_redis(sandbox_tmp: Path) -> None:
    """binder/start runs a fresh redis-server (not the shared 6379 one) and the command sees it in REDIS_URL."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not on PATH (apt-get install redis-server): binder/start cannot be tested"
        if REQUIRE:
            pytest.fail(message + " [CI requires it]")
        pytest.skip(message)
    port_6379_taken = listening(6379)
    started = time.monotonic()
    result = run_start([sys.executable, "-c", CHILD], sandbox_tmp)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["url"] == f"redis://127.0.0.1:{seen['port']}/0"
    assert seen["ping"] is True and seen["get"] == "ok"
    assert seen["server_pid"] == seen["pid"], "REDIS_URL answers from a server binder/start did not start"
    if port_6379_taken:
        assert seen["port"] != 6379, "binder/start used the Redis already listening on 6379"
    assert seen["save"] == "" and seen["appendonly"] == "no"
    assert Path(seen["dir"]).resolve().is_relative_to(sandbox_tmp.resolve())
    assert elapsed < 30, f"binder/start plus the command took {elapsed:.1f} s"

    pidfiles = list(sandbox_tmp.glob("labqueue-binder-redis.*/redis.pid"))
    assert [int(p.read_text()) for p in pidfiles] == [seen["pid"]]
    os.kill(seen["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(seen["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(seen["pid"]), "the redis-server started by binder/start did not stop on SIGTERM"
    assert not listening(seen["port"])


def test_binder_start_without_redis_server_still_runs_the_command(tmp_path: Path) -> None:
    """Where redis-server is missing, binder/start warns and runs the command without REDIS_URL."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "mktemp", "sleep", "timeout"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "python").symlink_to(sys.executable)
    code = "import os; print(os.environ.get('REDIS_URL', 'unset'))"
    result = run_start(["python", "-c", code], tmp_path, path=str(bin_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unset"
    assert "redis-server is not installed" in result.stderr


def test_binder_start_without_a_command_is_a_usage_error(tmp_path: Path) -> None:
    """binder/start with no command exits 2 and starts nothing."""
    result = run_start([], tmp_path)
    assert result.returncode == 2
    assert "usage" in result.stderr
    assert not list(tmp_path.glob("labqueue-binder-redis.*"))


def test_binder_files_are_in_place() -> None:
    """binder/ has an executable start script and apt.txt installs redis-server."""
    assert START.is_file() and os.access(START, os.X_OK), "binder/start must exist and be executable"
    assert START.read_text().rstrip().splitlines()[-1] == 'exec "$@"'
    assert "redis-server" in requirement_lines(BINDER / "apt.txt")


def test_binder_requirements_agree_with_requirements_txt() -> None:
    """binder/requirements.txt lists exactly requirements.txt's requirements, plus `.` for labqueue itself."""
    binder = requirement_lines(BINDER / "requirements.txt")
    root = requirement_lines(ROOT / "requirements.txt")
    local = [line for line in binder if line in {".", "-e .", "./", "-e ./"}]
    assert local, "binder/requirements.txt must install labqueue itself (a `.` line)"
    rest = [line for line in binder if line not in local]
    assert sorted(rest) == sorted(root), (
        "binder/requirements.txt and requirements.txt differ: "
        f"only in binder: {sorted(set(rest) - set(root))}, only in requirements.txt: {sorted(set(root) - set(rest))}"
    )
