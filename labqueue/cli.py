"""The command line: run a worker as a real process, outside the notebook.

    python -m labqueue worker --queue emails --pattern reliable --handlers myapp.handlers --concurrency 4

Handlers come from the operator's command line only: `--handlers` names a Python module, imported
once at start. The module either exposes `HANDLERS`, a dict {job type: function(job)}, or (without
it) every public function defined in the module is the handler of the job type of the same name.
A job never names code: its `type` is only looked up in that table (an unknown type goes to the
dead-letter queue).

`--pattern production` runs the same Worker on a JobQueue (the Bull-style queue); the handlers
then receive its ActiveJob (`job.id`, `job.name`, `job.data`, `job.progress()`). `--burst` works
there too: it exits once nothing is waiting or delayed (a repeatable job's next run is delayed).
`--max-attempts` is refused there: a JobQueue job's attempts are set when it is added.

Signals: the first SIGTERM or SIGINT stops taking jobs, finishes (and acks) the ones in hand and
exits 0; a second one exits at once (status 128 + signal), and the jobs in hand come back through
their leases. The Redis password is never printed: the banner uses `labqueue.describe`.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType, ModuleType
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .connection import connect, describe, mask_url, refused
from .errors import ConfigError
from .job import DEFAULT_MAX_ATTEMPTS
from .reliable import ReliableQueue
from .simple import SimpleQueue
from .worker import Handler, Worker

log = logging.getLogger("labqueue.cli")


def load_handlers(module_path: str) -> dict[str, Handler]:
    """The handler table of module `module_path`: its HANDLERS dict, else its public functions."""
    try:
        module: ModuleType = importlib.import_module(module_path)
    except ImportError as exc:
        raise ConfigError(f"cannot import handlers module {module_path!r}: {exc}") from None
    table = getattr(module, "HANDLERS", None)
    if table is not None:
        if not isinstance(table, Mapping):
            raise ConfigError(f"{module_path}.HANDLERS must be a dict {{job type: function}}, "
                              f"got {type(table).__name__}")
        bad = [name for name, fn in table.items() if not isinstance(name, str) or not callable(fn)]
        if bad:
            raise ConfigError(f"{module_path}.HANDLERS: entries {bad!r} are not 'job type: function'")
        handlers = dict(table)
    else:
        handlers = {name: fn for name, fn in vars(module).items()
                    if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")}
    if not handlers:
        raise ConfigError(f"handlers module {module_path!r} defines no HANDLERS dict and no public function")
    return handlers


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m labqueue`."""
    parser = argparse.ArgumentParser(prog="python -m labqueue", description="labqueue command line")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run a worker process on a queue",
                       description="Run a worker on a queue until SIGTERM/SIGINT (or until empty with --burst).")
    w.add_argument("--queue", required=True, help="queue name (keys lq:{name}:...)")
    w.add_argument("--pattern", choices=("reliable", "simple", "production"), default="reliable",
                   help="reliable (processing list + leases, default), simple (BRPOP: loses jobs on a "
                        "crash) or production (JobQueue, Bull-style; handlers per job name)")
    w.add_argument("--handlers", required=True,
                   help="Python module with a HANDLERS dict {job type: function}, or public functions named by job type")
    w.add_argument("--concurrency", type=int, default=1, help="worker threads (default 1)")
    w.add_argument("--url", default=None, help="Redis URL (default: $REDIS_URL)")
    w.add_argument("--lease", type=float, default=5.0,
                   help="lease of a job in hand, seconds (reliable and production; simple has no lease and "
                        "ignores it; default 5)")
    w.add_argument("--max-attempts", type=int, default=None,
                   help="deliveries before the dead-letter queue (reliable, simple; default 3). Not with "
                        "production: a JobQueue job's attempts are its producer's option (add(..., attempts=N))")
    w.add_argument("--prefetch", type=int, default=1,
                   help="jobs claimed per round trip (reliable and production; simple takes one job at a time "
                        "and ignores it; default 1)")
    w.add_argument("--poll", type=float, default=1.0, help="longest blocking wait on an empty queue, s (default 1)")
    w.add_argument("--burst", action="store_true", help="exit 0 once the queue is empty")
    w.add_argument("--name", default=None, help="worker name in logs (default worker-<pid>)")
    w.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _install_signals(worker: Any) -> list[int]:
    """First SIGTERM/SIGINT: graceful stop; second: exit now. Returns the list of signals received."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        name = signal.Signals(signum).name
        if len(received) == 1:
            log.info("%s: %s received, finishing the jobs in hand then exiting (send it again to exit now)",
                     worker.name, name)
            worker.stop(wait=False)
        else:
            log.warning("%s: second signal (%s), exiting now; jobs in hand come back when their leases expire",
                        worker.name, name)
            logging.shutdown()
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return received


def run_worker(args: argparse.Namespace) -> int:
    """Start a Worker for the parsed arguments and wait until it ends; returns the exit status."""
    handlers = load_handlers(args.handlers)
    url = args.url or os.environ.get("REDIS_URL")
    if not url:
        raise ConfigError("a worker process needs a Redis server other processes can reach: "
                          "pass --url redis://host:port/db or set REDIS_URL")
    if args.pattern == "production" and args.max_attempts is not None:
        raise ConfigError("--max-attempts does not apply to --pattern production: a JobQueue job's attempts are "
                          "set by its producer (add(..., attempts=N), or the producer's default_job_options; "
                          "1 when neither sets it); leave --max-attempts out")
    if args.max_attempts is None:
        args.max_attempts = DEFAULT_MAX_ATTEMPTS
    if args.concurrency < 1 or args.max_attempts < 1 or args.prefetch < 1:
        raise ConfigError("--concurrency, --max-attempts and --prefetch must be >= 1")
    client = connect(url)
    # Few quick retries inside redis-py: a longer outage surfaces to the worker, which logs it
    # ("lost connection to Redis ... retrying") and reconnects with its own backoff.
    client.set_retry(Retry(ExponentialBackoff(cap=0.2, base=0.02), 2))
    try:
        client.ping()
    except redis.RedisError as exc:  # a wrong password ends here; a server away is waited for
        if refused(exc):
            raise ConfigError(refused(exc)) from None
    if args.lease <= 0:
        raise ConfigError(f"--lease must be > 0 seconds, got {args.lease}")
    name = args.name or f"worker-{os.getpid()}"
    queue: Any
    if args.pattern == "production":
        from .jobqueue import JobQueue

        queue = JobQueue(client, args.queue, lease_seconds=args.lease)
    elif args.pattern == "reliable":
        queue = ReliableQueue(client, args.queue, lease_seconds=args.lease, max_attempts=args.max_attempts)
    else:
        queue = SimpleQueue(client, args.queue, max_attempts=args.max_attempts)
    worker = Worker(queue, handlers, concurrency=args.concurrency, prefetch=args.prefetch,
                    poll_seconds=args.poll, burst=args.burst, name=name)
    received = _install_signals(worker)
    log.info("labqueue %s (pid %d): queue %r, pattern %s, concurrency %d, handlers %s from %s; %s",
             worker.name, os.getpid(), args.queue, args.pattern, args.concurrency,
             ", ".join(sorted(handlers)), args.handlers, describe(client))
    worker.start()
    if received:  # a signal that came before start(), which clears the stop flag
        worker.stop(wait=False)
    while worker.alive:
        worker.join(timeout=0.2)  # short joins keep the main thread free to run signal handlers
    if worker.fatal:  # Redis refused us (password, permissions): the worker said why, in one line
        worker.stop(wait=True)
        return 2
    worker.join()
    stats = dict(worker.stats)
    log.info("%s stopped: %s", worker.name, ", ".join(f"{k} {v}" for k, v in sorted(stats.items())) or "no job")
    return 1 if stats.get("errors") else 0


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], Any] | None = None) -> int:
    """Entry point of `python -m labqueue`; returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run_worker(args)
    except ConfigError as exc:
        message = mask_url(str(exc))
        (out or (lambda m: print(m, file=sys.stderr)))(f"labqueue: error: {message}")
        return 2
