"""Keys of the wrong Redis type: move them aside so a worker survives a corrupted queue.

When something outside labqueue overwrites a queue key with the wrong type (`SET lq:{emails}:waiting
oops`), every command on it fails with WRONGTYPE. A worker that meets that error calls
`quarantine_wrong_types(queue)`: each key of the queue whose type is wrong is renamed to
`lq:{name}:quarantine:<n>` and a dead-letter entry `quarantine:<n>` names the key, the type it held
and where it went (quarantine.lua: TYPE, RENAME, HSET). Nothing is deleted: an operator can inspect
the moved key and repair it by hand. Which keys, and their types, come from the queue's key class
(labqueue.keys.QueueKey declarations: Keys, JobQueueKeys), so a key added there is covered here.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from . import scripts
from .base import text


def is_wrong_type(exc: BaseException) -> bool:
    """True for Redis's WRONGTYPE error (also when raised inside a Lua script)."""
    return "WRONGTYPE" in str(exc)


def quarantine_wrong_types(queue: Any) -> list[str]:
    """Move aside every key of `queue` holding the wrong type; returns the keys moved (TYPE, quarantine.lua)."""
    keys, client = queue.keys, queue.redis
    typed = keys.typed()
    pipe = client.pipeline(transaction=False)
    for _, key, _ in typed:
        pipe.type(key)
    found = [text(t) for t in pipe.execute()]
    bad = [(key, expected) for (_, key, expected), kind in zip(typed, found)
           if kind not in ("none", expected)]  # the dead-letter queue's first: the others are recorded there
    script = scripts.load(client, "quarantine")
    moved = []
    for key, expected in bad:
        n = _first_number(client, keys)
        while True:
            reply = script(keys=[key, keys.quarantine(n), keys.dlq, keys.dlq_meta],
                           args=[expected, "", f"quarantine:{n}"])
            if reply != 0:  # 0: quarantine:<n> is taken (a counter that restarted): the next number
                break
            n += 1
        if text(reply):
            moved.append(key)
    return moved


def _first_number(client: Any, keys: Any) -> int:
    """The number to try first for the next key moved aside: the quarantine counter's next (INCR); when the
    counter itself holds the wrong type (it is moved aside too), the time in microseconds. Either way
    quarantine.lua skips a number already taken, so a counter that restarts overwrites nothing."""
    try:
        return int(client.incr(keys.quarantine_seq))
    except redis.ResponseError as exc:
        if not is_wrong_type(exc):
            raise
        return time.time_ns() // 1000
