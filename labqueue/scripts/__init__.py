"""The Lua scripts of labqueue, one atomic state change per file.

Each file opens with a header listing KEYS, ARGV and what it returns. Scripts touch only the keys
passed in KEYS and are never built at run time: `load(client, name)` reads the file once and
returns a redis-py Script (EVALSHA, falling back to EVAL after a server restart). A line
`--- @include jq_lib` (as BullMQ's) stands for that file's text: helpers written once, shared by
the scripts that include them; `source` returns the script with it in place, as Redis runs it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum
from functools import lru_cache
from importlib.resources import files
from typing import Any


@lru_cache(maxsize=None)
def source(name: str) -> str:
    """The Lua source of script `name` (a file `name.lua` beside this module), its includes in place."""
    text = (files(__package__) / f"{name}.lua").read_text(encoding="utf-8")
    return INCLUDE.sub(lambda m: source(m.group(1)).rstrip("\n"), text)


INCLUDE = re.compile(r"^--- @include (\w+)$", re.M)
# the line that names a script's KEYS: `local jobs, wait =\n  KEYS[1], KEYS[2]` (a jq_*.lua script's first code)
KEYS_LINE = re.compile(r"^local ([\w,\s]+?) =\s+(KEYS\[1\](?:,\s*KEYS\[\d+\])*)$", re.M)


@lru_cache(maxsize=None)
def key_names(name: str) -> tuple[str, ...]:
    """The names script `name` gives its KEYS, in order, read from its `local ... = KEYS[1], ...` line:
    what the caller must send (JobQueueKeys.for_script), written once, in the script."""
    found = KEYS_LINE.search(source(name))
    if found is None:
        raise ValueError(f"{name}.lua names no KEYS (a line `local a, b = KEYS[1], KEYS[2]`)")
    names = tuple(n.strip() for n in found.group(1).split(","))
    if re.findall(r"\d+", found.group(2)) != [str(i) for i in range(1, len(names) + 1)]:
        raise ValueError(f"{name}.lua: its names and KEYS[1..n] do not match: {found.group(0)!r}")
    return names


class Outcome(IntEnum):
    """How a script that ends a delivery ended it (nack.lua, jq_finish.lua): one meaning per number."""

    NOT_OURS = 0  # the delivery was no longer the caller's (its lease ran out, recovery took it): nothing changed
    RETRIED = 1  # failed; runs again, after its backoff
    DEAD = 2  # failed for good: in the dead-letter queue (a JobQueue's `failed` set)
    RELEASED = 3  # handed back unprocessed, at the head of the queue, the delivery not counted
    COMPLETED = 4  # succeeded (jq_finish.lua; the reliable queue's ack counts deliveries instead)


def load(client: Any, name: str) -> Any:
    """Script `name` registered on `client`."""
    return client.register_script(source(name))


def run_raw(client: Any, script: Any, keys: list[str], args: Sequence[Any] = ()) -> Any:
    """Run a registered script with its reply left as bytes (NEVER_DECODE), whatever the client decodes:
    a reply holding bytes that are not UTF-8 (a hand-written member, a junk field) reads without error."""
    import redis

    try:
        return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args, NEVER_DECODE=True)
    except redis.exceptions.NoScriptError:
        return client.execute_command("EVAL", script.script, len(keys), *keys, *args, NEVER_DECODE=True)


def hashes_raw(client: Any, script: Any, keys: list[str]) -> list[dict[bytes, bytes]]:
    """Run read_hashes.lua with its reply left as bytes (NEVER_DECODE): one dict per hash."""
    flats = run_raw(client, script, keys)
    return [dict(zip(flat[::2], flat[1::2])) for flat in flats]
