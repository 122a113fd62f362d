"""A traced client: record the Redis commands one queue operation actually sends.

`Tracer(r)` makes a second client on the same backend (same fakeredis server, or same connection
pool) whose `execute_command` and pipelines are wrapped: every command is recorded with the
operation it belongs to. EVALSHA digests are named after the labqueue script they run
(`EVALSHA lease.lua`), by hashing every file of `labqueue/scripts/` as redis-py does.

    t = Tracer(r)
    q = ReliableQueue(t.client, "demo")
    with t.record("enqueue"):
        q.enqueue({"type": "send_email"})
    t.summary()   # {"enqueue": "LPUSH"}
    t.show_lua()  # the source of every Lua script the operations ran (labqueue.lab.lua)
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from .. import scripts
from .i18n import _


def script_names() -> dict[str, str]:
    """SHA1 digest -> file name (`lease.lua`) of every labqueue Lua script."""
    names = {}
    for entry in files(scripts.__name__).iterdir():
        if entry.name.endswith(".lua"):
            source = scripts.source(entry.name[:-4])
            names[hashlib.sha1(source.encode("utf-8")).hexdigest()] = entry.name
    return names


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _short(value: Any, width: int) -> str:
    s = _text(value)
    return s if len(s) <= width else s[: width - 1] + "…"


@dataclass(frozen=True)
class Command:
    """One command sent to Redis while an operation was being recorded."""

    operation: str
    name: str  # "LPUSH", "EVALSHA lease.lua", "SCRIPT LOAD"...
    args: tuple[Any, ...]
    pipeline: bool = False  # sent inside a pipeline (MULTI/EXEC when transactional)
    error: str | None = None  # the error Redis answered, if any (NOSCRIPT...)

    def pretty(self, width: int = 48) -> str:
        """The command as redis-cli would show it, long arguments shortened."""
        shown = " ".join(_short(a, width) for a in self.args)
        return f"{self.name} {shown}".strip()


def _sibling(client: Any) -> Any:
    """A new client of the same kind on the same server(s) (a RedisCluster on the same cluster)."""
    from ..cluster import is_cluster

    if not is_cluster(client):
        return type(client)(connection_pool=client.connection_pool)
    from redis.cluster import RedisCluster

    node, kw = client.get_default_node(), client.get_connection_kwargs()
    keep = ("username", "password", "decode_responses", "encoding", "socket_timeout", "socket_connect_timeout")
    return RedisCluster(host=node.host, port=node.port, **{k: kw[k] for k in keep if k in kw})


class Tracer:
    """A client on the same backend as `client` that records what each operation sends."""

    def __init__(self, client: Any, *, preload_scripts: bool = True) -> None:
        self.origin = client
        self.client = _sibling(client)
        self.commands: list[Command] = []
        self._names = script_names()
        self._lock = threading.Lock()
        self._operation: str | None = None
        if preload_scripts:  # so a trace shows EVALSHA alone, not NOSCRIPT + SCRIPT LOAD
            for sha, name in self._names.items():
                client.script_load(scripts.source(name[:-4]))
        inner = self.client.execute_command
        make_pipeline = self.client.pipeline

        def execute_command(*args: Any, **options: Any) -> Any:
            try:
                reply = inner(*args, **options)
            except Exception as exc:
                self._add(args, error=f"{type(exc).__name__}: {exc}")
                raise
            self._add(args)
            return reply

        def pipeline(transaction: bool = True, shard_hint: Any = None) -> Any:
            pipe = make_pipeline(transaction=transaction, shard_hint=shard_hint)
            run = pipe.execute

            def execute(raise_on_error: bool = True) -> Any:
                strategy = getattr(pipe, "_execution_strategy", None)  # a cluster pipeline queues there
                queued = strategy.command_queue if strategy is not None else pipe.command_stack
                stack = [c.args if hasattr(c, "args") else c[0] for c in queued]
                if transaction:
                    self._add(("MULTI",), pipeline=True)
                for args in stack:
                    self._add(args, pipeline=True)
                if transaction:
                    self._add(("EXEC",), pipeline=True)
                return run(raise_on_error=raise_on_error)

            pipe.execute = execute
            return pipe

        self.client.execute_command = execute_command
        self.client.pipeline = pipeline

    def _add(self, args: tuple[Any, ...], *, pipeline: bool = False, error: str | None = None) -> None:
        if self._operation is None or not args:
            return
        name = _text(args[0]).upper()
        rest = tuple(args[1:])
        if name in ("SCRIPT LOAD", "SCRIPT") and rest and _text(rest[0]).upper() == "LOAD":
            name, rest = "SCRIPT LOAD", rest[1:]
        if name == "EVALSHA" and rest:
            script = self._names.get(_text(rest[0]), _text(rest[0])[:10])
            name, rest = f"EVALSHA {script}", rest[1:]
        with self._lock:
            self.commands.append(Command(self._operation, name, rest, pipeline, error))

    @contextmanager
    def record(self, operation: str) -> Iterator[list[Command]]:
        """Record, under `operation`, every command this tracer's client sends inside the block."""
        before = len(self.commands)
        self._operation = operation
        found: list[Command] = []
        try:
            yield found
        finally:
            self._operation = None
            found.extend(self.commands[before:])

    def of(self, operation: str) -> list[Command]:
        """The commands recorded under `operation`."""
        return [c for c in self.commands if c.operation == operation]

    def names(self, operation: str) -> list[str]:
        """Command names recorded under `operation`, errors included (`['LPUSH']`)."""
        return [c.name for c in self.of(operation)]

    def summary(self) -> dict[str, str]:
        """Operation -> its commands joined by ' + ' (`'BRPOPLPUSH + EVALSHA lease.lua'`)."""
        out: dict[str, list[str]] = {}
        for c in self.commands:
            out.setdefault(c.operation, []).append(c.name + (" " + _("(error)") if c.error else ""))
        return {op: " + ".join(names) for op, names in out.items()}

    def scripts_by_operation(self) -> dict[str, list[str]]:
        """Operation -> the labqueue Lua scripts it ran with EVALSHA, in order, each once (`['lease.lua']`)."""
        out: dict[str, list[str]] = {}
        for c in self.commands:
            if c.name.startswith("EVALSHA ") and c.name.endswith(".lua"):
                used = out.setdefault(c.operation, [])
                if c.name[8:] not in used:
                    used.append(c.name[8:])
        return out

    def scripts(self, operation: str | None = None) -> list[str]:
        """The Lua scripts one operation (or all of them) ran, in order, each once."""
        found: list[str] = []
        for op, used in self.scripts_by_operation().items():
            if operation is None or op == operation:
                found.extend(name for name in used if name not in found)
        return found

    def table(self, width: int = 48) -> Any:
        """A pandas DataFrame to show: operation, command as sent, pipeline flag, error.

        Its column headers (and the pipeline flag's "yes") are in the language in use: it is made to be
        displayed; code reads `commands` instead. Its `attrs["lua"]` holds `scripts_by_operation()`, so
        `driven.beside` can show the Lua next to it.
        """
        import pandas as pd

        columns = [_("operation"), _("command"), _("in pipeline"), _("error")]
        yes = _("yes")
        rows = [(c.operation, c.pretty(width), yes if c.pipeline else "", c.error or "") for c in self.commands]
        df = pd.DataFrame(rows, columns=columns)
        df.attrs["lua"] = self.scripts_by_operation()
        return df

    def show_lua(self) -> Any:
        """Display the source of every Lua script the recorded operations ran, syntax-highlighted."""
        from . import lua

        return lua.show(self)

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self.commands.clear()

    def close(self) -> None:
        """Stop recording: the client sends commands untraced from now on."""
        vars(self.client).pop("execute_command", None)
        vars(self.client).pop("pipeline", None)
