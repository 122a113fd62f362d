"""Keys of the wrong Redis type: move them aside so a worker survives a corrupted queue.

When something outside labqueue overwrites a queue key with the wrong type (`SET lq:{emails}:waiting
oops`), every command on it fails with WRONGTYPE. A worker that meets that error calls
`quarantine_wrong_types(queue)`: each key of the queue whose type is wrong is renamed to
`lq:{name}:quarantine:<n>` and a dead-letter entry `quarantine:<n>` names the key, the type it held
and where it went (quarantine.lua: TYPE, RENAME, HSET). Nothing is deleted: an operator can inspect
the moved key and repair it by hand.
"""

from __future__ import annotations

from typing import Any

from . import scripts
from .base import text

# Keys property -> the Redis type labqueue stores there.
EXPECTED_TYPES: dict[str, str] = {
    "dlq": "hash", "dlq_meta": "hash",  # first: the other entries are recorded there
    "waiting": "list", "processing": "list", "inflight": "hash", "attempts": "hash",
    "orphans": "hash", "leases": "zset", "delayed": "zset", "priority": "zset", "seq": "string",
    "wake": "list", "cron": "hash", "cron_last": "hash",
}


def is_wrong_type(exc: BaseException) -> bool:
    """True for Redis's WRONGTYPE error (also when raised inside a Lua script)."""
    return "WRONGTYPE" in str(exc)


def quarantine_wrong_types(queue: Any) -> list[str]:
    """Move aside every key of `queue` holding the wrong type; returns the keys moved (TYPE, quarantine.lua)."""
    keys, client = queue.keys, queue.redis
    names = [(prop, getattr(keys, prop)) for prop in EXPECTED_TYPES if hasattr(keys, prop)]
    pipe = client.pipeline(transaction=False)
    for _, key in names:
        pipe.type(key)
    found = [text(t) for t in pipe.execute()]
    script = scripts.load(client, "quarantine")
    moved = []
    for (prop, key), kind in zip(names, found):
        expected = EXPECTED_TYPES[prop]
        if kind in ("none", expected):
            continue
        n = int(client.incr(keys.quarantine_seq))
        if text(script(keys=[key, keys.quarantine(n), keys.dlq, keys.dlq_meta],
                       args=[expected, "", f"quarantine:{n}"])):
            moved.append(key)
    return moved
