"""Real worker processes (`python -m labqueue worker`) against a private redis-server: kill -9,
Redis restarts, a poison pill, signals. Every execution is recorded in Redis by the test handlers
(tests/handlers_for_tests.py), so lost and duplicated jobs are counted from Redis, not from timing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from labqueue import ReliableQueue, SimpleQueue
from labqueue.cli import load_handlers
from labqueue.errors import ConfigError
from labqueue.lab.server import RedisServer
from tests.conftest import require_redis_server
from tests.handlers_for_tests import EXECUTIONS

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = "tests.handlers_for_tests"


class WorkerPool:
    """Worker processes of the command line, started, SIGKILLed and replaced by a test."""

    def __init__(self, url: str, queue: str, log_dir: Path, *, pattern: str = "reliable",
                 concurrency: int = 2, size: int = 2, extra: tuple[str, ...] = ()) -> None:
        self.url, self.queue, self.log_dir = url, queue, log_dir
        self.args = [sys.executable, "-m", "labqueue", "worker", "--queue", queue, "--pattern", pattern,
                     "--handlers", HANDLERS, "--concurrency", str(concurrency), "--poll", "0.2", *extra]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_of: dict[int, Path] = {}
        self.started = 0
        self.kills = 0
        for _ in range(size):
            self.spawn()

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start one more worker process, its log in log_dir."""
        env = {**os.environ, "REDIS_URL": self.url, "PYTHONPATH": str(ROOT)}
        path = self.log_dir / f"{self.queue}-worker-{self.started}.log"
        with open(path, "wb") as log:
            proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.log_of[proc.pid] = path
        self.started += 1
        self.procs.append(proc)
        return proc

    def kill_one(self, rng: random.Random) -> None:
        """SIGKILL a random running worker and start a replacement."""
        proc = rng.choice(self.procs)
        proc.kill()
        proc.wait()
        self.procs.remove(proc)
        self.kills += 1
        self.spawn()

    def replace_dead(self) -> int:
        """Start a replacement for every worker that died by itself; returns how many."""
        dead = [p for p in self.procs if p.poll() is not None]
        for proc in dead:
            self.procs.remove(proc)
            self.spawn()
        return len(dead)

    def ready(self, proc: subprocess.Popen[bytes]) -> bool:
        """True once the worker has logged its banner (its signal handlers are installed)."""
        return proc.poll() is not None or "(pid " in self.log_of[proc.pid].read_text(errors="replace")

    def stop(self, timeout: float = 20) -> list[int]:
        """SIGTERM every worker once it is up (graceful stop) and return their exit codes."""
        wait_until(lambda: all(self.ready(p) for p in self.procs), 20, "every worker to start")
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes

    def logs(self) -> str:
        """Every worker's log so far."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob(f"{self.queue}-*.log")))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def pools() -> Iterator[Callable[..., WorkerPool]]:
    """Factory of worker pools, every process killed at teardown even when the test fails."""
    made: list[WorkerPool] = []

    def factory(*args: Any, **kwargs: Any) -> WorkerPool:
        made.append(WorkerPool(*args, **kwargs))
        return made[-1]

    yield factory
    for pool in made:
        pool.close()


@pytest.fixture
def server(redis_server: RedisServer) -> Iterator[tuple[RedisServer, redis.Redis]]:
    """The session's private redis-server, flushed, with a decode_responses client."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    yield redis_server, client
    client.close()


def tally(client: redis.Redis, ids: list[str]) -> tuple[int, int]:
    """(lost, duplicates): jobs never executed, and executions beyond the first (HGETALL)."""
    runs = {k: int(v) for k, v in client.hgetall(EXECUTIONS).items()}
    lost = sum(1 for i in ids if runs.get(i, 0) == 0)
    duplicates = sum(max(runs.get(i, 0) - 1, 0) for i in ids)
    return lost, duplicates


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 50 ms; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def drained(queue: ReliableQueue) -> bool:
    c = queue.counts()
    return c["waiting"] == 0 and c["processing"] == 0 and c["delayed"] == 0


# -- 1. kill -9 --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_loses_no_job_on_the_reliable_queue(server: Any, pools: Any, tmp_path: Path) -> None:
    """Workers SIGKILLed at random while draining 3,000 jobs: every job runs, duplicates <= kills x concurrency."""
    srv, client = server
    queue = ReliableQueue(client, "chaos", lease_seconds=1.5, max_attempts=50)
    ids = queue.enqueue_many([{"type": "work", "ms": 4} for _ in range(3000)])
    concurrency, rng = 4, random.Random(5)
    pool = pools(srv.url, "chaos", tmp_path, concurrency=concurrency, size=4,
                 extra=("--lease", "1.5", "--max-attempts", "50"))
    start = time.monotonic()
    while queue.size() > 0 and time.monotonic() - start < 45:
        time.sleep(rng.uniform(0.08, 0.25))
        pool.kill_one(rng)
    wait_until(lambda: drained(queue), 30, "the killed workers' jobs to come back and be done")
    codes = pool.stop()
    lost, duplicates = tally(client, ids)
    print(f"\nkill -9 run: {len(ids)} jobs, {pool.kills} kills, lost {lost}, duplicates {duplicates}, "
          f"{time.monotonic() - start:.1f} s")
    assert pool.kills >= 5
    assert lost == 0
    assert duplicates <= pool.kills * concurrency
    assert queue.dlq_size() == 0 and client.zcard(queue.keys.leases) == 0 and client.hlen(queue.keys.inflight) == 0
    assert codes == [0] * len(codes), pool.logs()


@pytest.mark.slow
def test_kill_9_loses_jobs_on_the_simple_queue(server: Any, pools: Any, tmp_path: Path) -> None:
    """The same kills on the simple queue (BRPOP) lose jobs: the lesson of pattern 1."""
    srv, client = server
    queue = SimpleQueue(client, "naive")
    ids = queue.enqueue_many([{"type": "work", "ms": 20} for _ in range(800)])
    rng = random.Random(6)
    pool = pools(srv.url, "naive", tmp_path, pattern="simple", concurrency=4, size=4)
    start = time.monotonic()
    while queue.size() > 0 and time.monotonic() - start < 40:
        time.sleep(rng.uniform(0.15, 0.4))
        pool.kill_one(rng)
    codes = pool.stop()  # graceful: the jobs in hand of live workers are finished
    lost, duplicates = tally(client, ids)
    print(f"\nsimple queue kill -9 run: {len(ids)} jobs, {pool.kills} kills, lost {lost}, duplicates {duplicates}")
    assert queue.size() == 0
    assert pool.kills >= 3
    assert lost > 0
    assert duplicates == 0  # nothing is ever re-delivered: a popped job is gone either way
    assert codes == [0] * len(codes), pool.logs()


# -- 2. Redis restart ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_redis_restart_mid_run_loses_no_job(pools: Any, tmp_path: Path) -> None:
    """Redis (AOF, fsync always) SIGKILLed and restarted mid-run: workers reconnect by themselves, nothing lost."""
    require_redis_server()
    with RedisServer(appendonly=True) as srv:
        client = redis.Redis.from_url(srv.url, decode_responses=True)
        queue = ReliableQueue(client, "restart", lease_seconds=1.5, max_attempts=50)
        ids = queue.enqueue_many([{"type": "work", "ms": 2} for _ in range(1500)])
        pool = pools(srv.url, "restart", tmp_path, concurrency=4, size=2,
                     extra=("--lease", "1.5", "--max-attempts", "50"))
        wait_until(lambda: client.hlen(EXECUTIONS) >= 300, 30, "300 jobs done before the restart")
        srv.kill()
        time.sleep(1.0)  # Redis away for a while: workers must notice, back off and come back
        srv.start()
        done_at_restart = client.hlen(EXECUTIONS)
        wait_until(lambda: drained(queue), 45, "the queue to drain after the restart")
        assert all(p.poll() is None for p in pool.procs), "a worker died instead of reconnecting"
        codes = pool.stop()
        lost, duplicates = tally(client, ids)
        logs = pool.logs()
        print(f"\nRedis restart run: {len(ids)} jobs, {done_at_restart} done when Redis came back, "
              f"lost {lost}, duplicates {duplicates}, reconnections logged {logs.count('reconnected')}")
        assert 300 <= done_at_restart < len(ids)  # the restart really happened mid-run
        assert lost == 0
        assert duplicates <= 2 * 4  # at most the jobs in hand when Redis went away
        assert queue.dlq_size() == 0
        assert "lost connection to Redis" in logs and "reconnected to Redis" in logs
        assert codes == [0, 0], logs
        client.close()


# -- 3. poison pill ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_poison_pill_ends_in_the_dlq_and_the_rest_drains(server: Any, pools: Any, tmp_path: Path) -> None:
    """A job that SIGKILLs its worker each time is dead-lettered after max attempts; the rest drains."""
    srv, client = server
    queue = ReliableQueue(client, "pills", lease_seconds=1.0, max_attempts=20)  # the pill's neighbours die too
    ids = queue.enqueue_many([{"type": "work", "ms": 2} for _ in range(100)])
    pill = queue.enqueue({"type": "poison"}, max_attempts=3)
    ids += queue.enqueue_many([{"type": "work", "ms": 2} for _ in range(100)])
    pool = pools(srv.url, "pills", tmp_path, concurrency=2, size=2, extra=("--lease", "1", "--max-attempts", "20"))
    deadline = time.monotonic() + 40
    while not (drained(queue) and queue.dlq_size() >= 1):
        assert time.monotonic() < deadline, f"queue never drained: {queue.counts()}"
        pool.replace_dead()  # the supervisor (systemd, Kubernetes...) restarts dead workers
        time.sleep(0.05)
    pool.stop()
    lost, _ = tally(client, ids)
    [dead] = queue.dead_letters()
    assert dead.id == pill and dead.job is not None and dead.job.type == "poison"
    assert "lease expired on delivery 3 of 3" in dead.reason and dead.attempts == 3
    assert int(client.hget(EXECUTIONS, pill)) == 3
    assert lost == 0


@pytest.mark.slow
def test_poison_pill_ends_in_the_production_queue_failed_set(server: Any, pools: Any, tmp_path: Path) -> None:
    """On the production JobQueue, a job that SIGKILLs its worker ends in the failed set with its reason."""
    from labqueue.jobqueue import JobQueue

    srv, client = server
    queue = JobQueue(client, "pills-prod", lease_seconds=1.0)
    ids = queue.add_bulk([("work", {"ms": 2})] * 50)
    pill = queue.add("poison", {})
    ids += queue.add_bulk([("work", {"ms": 2})] * 50)
    # concurrency 1: with max_stalled=1 a neighbour killed twice with the pill would fail too
    pool = pools(srv.url, "pills-prod", tmp_path, pattern="production", concurrency=1, size=2, extra=("--lease", "1"))

    def settled() -> bool:
        c = queue.get_job_counts()
        return c["waiting"] == c["active"] == c["delayed"] == 0 and c["failed"] >= 1

    deadline = time.monotonic() + 40
    while not settled():
        assert time.monotonic() < deadline, f"queue never settled: {queue.get_job_counts()}"
        pool.replace_dead()
        time.sleep(0.05)
    pool.stop()
    [failed] = queue.get_failed()
    assert failed.id == pill and failed.name == "poison"
    assert failed.failed_reason is not None and "its worker keeps dying" in failed.failed_reason
    assert queue.get_job_counts()["completed"] == len(ids)
    assert tally(client, ids)[0] == 0


# -- the command line: signals, handler modules, configuration errors -------------------------------
def test_a_burst_production_worker_runs_every_job_once_then_exits_0(server: Any, tmp_path: Path) -> None:
    """`--pattern production --burst` was refused ('--burst is not available', exit 2) although the one
    Worker runs a JobQueue in burst mode: it now runs each job once and exits 0 once nothing is left."""
    from labqueue.jobqueue import JobQueue

    srv, client = server
    queue = JobQueue(client, "burst-prod")
    ids = queue.add_bulk([("work", {"ms": 5})] * 8)
    env = {**os.environ, "REDIS_URL": srv.url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "labqueue", "worker", "--queue", "burst-prod", "--pattern", "production",
                           "--handlers", HANDLERS, "--concurrency", "2", "--prefetch", "3", "--poll", "0.2", "--burst"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert queue.get_job_counts() == {"waiting": 0, "active": 0, "delayed": 0, "completed": 8, "failed": 0,
                                      "paused": 0}
    assert tally(client, ids) == (0, 0)
    assert "succeeded 8" in proc.stderr


def test_sigterm_finishes_the_jobs_in_hand_then_exits_0(server: Any, pools: Any, tmp_path: Path) -> None:
    """First SIGTERM: the jobs in hand are finished and acked, no new job is taken, exit status 0."""
    srv, client = server
    queue = ReliableQueue(client, "graceful")
    ids = queue.enqueue_many([{"type": "work", "ms": 600} for _ in range(6)])
    pool = pools(srv.url, "graceful", tmp_path, concurrency=2, size=1)
    wait_until(lambda: client.zcard(queue.keys.leases) == 2, 15, "two jobs in hand")
    in_hand = {token.split(":", 1)[1] for token in client.zrange(queue.keys.leases, 0, -1)}  # tokens '<n>:<id>'
    pool.procs[0].send_signal(signal.SIGTERM)
    assert pool.procs[0].wait(15) == 0
    runs = client.hgetall(EXECUTIONS)
    assert set(runs) == in_hand and all(v == "1" for v in runs.values())
    assert queue.processing_size() == 0 and client.zcard(queue.keys.leases) == 0
    assert queue.size() == len(ids) - 2
    assert "finishing the jobs in hand" in pool.logs()


def test_second_signal_exits_at_once_and_leases_bring_the_jobs_back(server: Any, pools: Any,
                                                                     tmp_path: Path) -> None:
    """A second SIGTERM exits at once (128+15); the jobs in hand stay leased and are recovered later."""
    srv, client = server
    queue = ReliableQueue(client, "impatient", lease_seconds=0.5)
    queue.enqueue_many([{"type": "work", "ms": 10_000} for _ in range(2)])
    pool = pools(srv.url, "impatient", tmp_path, concurrency=2, size=1, extra=("--lease", "0.5"))
    wait_until(lambda: client.zcard(queue.keys.leases) == 2, 15, "two jobs in hand")
    proc = pool.procs[0]
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "finishing the jobs in hand" in pool.logs(), 5, "the first signal to be logged")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 128 + signal.SIGTERM
    assert client.hlen(EXECUTIONS) == 0 and queue.processing_size() == 2
    time.sleep(0.6)
    assert queue.recover_stale_jobs()["requeued"] == 2 and queue.size() == 2


def test_handlers_module_without_handlers_dict_uses_its_public_functions(tmp_path: Path,
                                                                         monkeypatch: Any) -> None:
    """Without HANDLERS, a module's own public functions are the handlers, by name."""
    (tmp_path / "plain_handlers.py").write_text(
        "from os.path import join\n"
        "def send_email(job):\n    return 'sent'\n"
        "def _helper(job):\n    return None\n"
        "CONSTANT = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sorted(load_handlers("plain_handlers")) == ["send_email"]
    assert sorted(load_handlers(HANDLERS)) == ["fail", "poison", "work"]


@pytest.mark.parametrize("source, message", [
    ("HANDLERS = ['work']\n", "must be a dict"),
    ("HANDLERS = {'work': 42}\n", "are not 'job type: function'"),
    ("X = 1\n", "no HANDLERS dict and no public function"),
])
def test_bad_handlers_module_is_a_clear_error(tmp_path: Path, monkeypatch: Any, source: str, message: str) -> None:
    """A handlers module without usable handlers is a ConfigError naming the problem."""
    name = f"bad_handlers_{abs(hash(source))}"
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=message):
        load_handlers(name)


@pytest.mark.parametrize("args, message", [
    (["--handlers", "no.such.module"], "cannot import handlers module 'no.such.module'"),
    (["--handlers", HANDLERS], "needs a Redis server other processes can reach"),
    (["--handlers", HANDLERS, "--url", "redis://:s3cret@localhost:notaport/0"], "is malformed"),
    (["--handlers", HANDLERS, "--url", "http://localhost:6379"], "must start with redis://"),
    (["--handlers", HANDLERS, "--url", "redis://localhost:1/0", "--concurrency", "0"], "must be >= 1"),
    (["--handlers", HANDLERS, "--url", "redis://:s3cret@localhost:1/0?timeout=1"], "unknown option(s) 'timeout'"),
    (["--handlers", HANDLERS, "--url", "redis://:s3cret/Pa55#w@localhost:1/0"], "must be percent-encoded"),
    (["--handlers", HANDLERS, "--url", "redis://localhost:1/0", "--lease", "nan"], "lease_seconds"),
    (["--handlers", HANDLERS, "--url", "redis://localhost:1/0", "--poll", "inf"], "poll_seconds"),
    (["--handlers", HANDLERS, "--url", "redis://localhost:1/0", "--max-attempts", "0"], "must be >= 1"),
    (["--handlers", HANDLERS, "--url", "redis://localhost:1/0", "--pattern", "production", "--max-attempts", "5"],
     "--max-attempts does not apply to --pattern production: a JobQueue job's attempts are set by its producer"),
])
def test_cli_configuration_errors_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    """A bad command line exits with status 2 and one line naming the problem (never the password)."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.run([sys.executable, "-m", "labqueue", "worker", "--queue", "q", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "s3cret" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one line, no traceback
