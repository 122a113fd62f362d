"""Queue events (Bull's `queue.on('completed', ...)`), in this process and in any other.

The scripts that change a job's state append the event to the Redis stream `lq:{name}:jq:events`
(XADD MAXLEN ~ N) in the same atomic step, so an event is never lost nor sent for a transition that
did not happen. A listener reads the stream with XREAD BLOCK from its own cursor. Why a stream and
not pub/sub: pub/sub drops every message sent while a listener is disconnected or not yet started,
while a stream keeps the last N events, so a listener that starts late, restarts or runs in another
process can replay from any id ("0" = everything kept) and then follow live; many listeners read
independently. The cost is memory, bounded by MAXLEN (approximate trimming is O(1)).

Events: completed (job, result, duration), failed (job, error, final; a failure of its handler adds attempts_made,
attempts and duration, which a job failed for stalling too often does not carry), progress
(job, progress), stalled (job, stalls), retried (job), cleaned (state, count), paused, resumed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _running
from .base import text
from .checks import integer, number
from .errors import ConfigError
from .jobspec import JobQueueKeys

log = logging.getLogger("labqueue.events")
EVENTS = ("completed", "failed", "progress", "stalled", "retried", "cleaned", "paused", "resumed")
_STREAM_ID = re.compile(r"([0-9]+)(?:-([0-9]+))?")  # ASCII digits: Python's \d takes '٣' too
LAST_ID = f"{2**64 - 1}-{2**64 - 1}"  # the largest stream id: nothing can come after it


def stream_id(name: str, value: Any, *, also: tuple[str, ...] = ()) -> str:
    """`value` if it is a stream id Redis takes ('ms' or 'ms-seq', each part < 2**64) or one of `also`;
    else a ConfigError naming `name` and the value."""
    if type(value) is str:
        if value in also:
            return value
        match = _STREAM_ID.fullmatch(value)
        if match and all(int(part or 0) < 2**64 for part in match.groups()):
            return value
    extra = "".join(f", {word!r}" for word in also)
    raise ConfigError(f"{name} must be a stream id ('ms' or 'ms-seq', as '1700000000000-0'{extra}), got {value!r}")


@dataclass(frozen=True)
class QueueEvent:
    """One stream entry: its stream id, the event name, the job id ('' for queue events), the fields."""

    stream_id: str
    event: str
    job_id: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def result(self) -> Any:
        """The decoded return value of a completed job."""
        return json.loads(self.fields["result"]) if "result" in self.fields else None

    @property
    def time(self) -> float:
        """When the event was written (the stream id's milliseconds)."""
        return int(self.stream_id.split("-")[0]) / 1000


def parse(stream_id: Any, raw: dict[Any, Any]) -> QueueEvent:
    f = {text(k): text(v) for k, v in raw.items()}
    return QueueEvent(text(stream_id), f.pop("event", ""), f.pop("job", ""), f)


def _order(stream_id: str) -> tuple[int, int]:
    """A stream id as (ms, seq), to compare two ids ("0" and a bare "ms" read as seq 0)."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class QueueEvents:
    """`QueueEvents(r, "email-jobs").on("completed", callback).start()`; `close()` joins its thread.

    `last_id`: "$" follows only new events, "0" replays every event the stream still holds first, a stream
    id the events after it; anything else is a ConfigError naming it (XREAD refused it only at the first read).
    """

    def __init__(self, redis_client: Any, queue_name: str, *, last_id: str = "$",
                 block_seconds: float = 0.2) -> None:
        self.redis = redis_client
        self.key = JobQueueKeys(queue_name).events
        self.last_id = stream_id("last_id", last_id, also=("$",))  # XREAD's: '$' is the newest entry
        self.block_ms = max(1, int(block_seconds * 1000))
        self._handlers: dict[str, list[Callable[[QueueEvent], None]]] = defaultdict(list)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def on(self, event: str, callback: Callable[[QueueEvent], None]) -> QueueEvents:
        """Call `callback(event)` for every `event` ('*' = all) read from now on."""
        if event not in EVENTS and event != "*":
            raise ValueError(f"unknown event {event!r}: use one of {', '.join(EVENTS)} or '*'")
        self._handlers[event].append(callback)
        return self

    def replay(self, since: str = "0", count: int = 10_000) -> list[QueueEvent]:
        """The events kept in the stream after id `since`, oldest first (XRANGE `(since` +).

        `since`: "0" or "-" every event kept, "ms-seq" the events after that one, a bare "ms" those after
        "ms-0" (XRANGE's reading); anything else is a ConfigError naming it, as is a `count` that is not an
        int >= 1 up to what XRANGE's COUNT takes: both are checked first (a junk `since` came back as Redis's
        'Invalid stream ID', 0 or -1 as redis-py's DataError, 2.5 as 'value is not an integer', True read one)."""
        since = stream_id("since", since, also=("-",))
        count = integer("count", count, low=1, high=2**63 - 1)
        if since == LAST_ID:
            return []  # XRANGE refuses an exclusive start it cannot step past
        start = "-" if since in ("0", "-") else f"({since}"
        return [parse(i, f) for i, f in self.redis.xrange(self.key, start, "+", count=count)]

    def _pin(self) -> None:
        """Turn the cursor "$" into the id of the newest event, so nothing is missed between reads."""
        if self.last_id == "$":
            newest = self.redis.xrevrange(self.key, count=1)
            self.last_id = text(newest[0][0]) if newest else "0-0"

    def poll(self, block_ms: int | None = None) -> list[QueueEvent]:
        """Read the next events after the cursor, waiting up to `block_ms`; dispatch them (XREAD BLOCK)."""
        self._pin()
        reply = self.redis.xread({self.key: self.last_id}, count=500,
                                 block=self.block_ms if block_ms is None else block_ms)
        out = []
        for _, entries in reply or []:
            for stream_id, raw in entries:
                event = parse(stream_id, raw)
                out.append(event)
                for callback in (*self._handlers.get(event.event, ()), *self._handlers.get("*", ())):
                    try:
                        callback(event)
                    except Exception:  # a listener's bug must not stop the others
                        log.exception("event listener failed on %s", event)
                self.last_id = event.stream_id  # after its callbacks: caught_up() means dispatched
        return out

    def caught_up(self, timeout: float = 5.0) -> bool:
        """Wait until every event written before this call has been dispatched (XREVRANGE: the newest id);
        False after `timeout` s. A listener's thread reads on its own: call this before counting what it saw."""
        deadline = time.monotonic() + number("timeout", timeout)
        self._pin()
        newest = self.redis.xrevrange(self.key, count=1)
        target = _order(text(newest[0][0])) if newest else (0, 0)
        while _order(self.last_id) < target:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def start(self) -> QueueEvents:
        """Dispatch events to the callbacks from a background thread."""
        self._pin()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=f"events-{self.key}", daemon=True)
        self._thread.start()
        _running.started(self, self.close)
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll()
            except Exception:
                log.exception("reading %s failed; retrying", self.key)
                self._stopping.wait(self.block_ms / 1000)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after its current read and join it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def main(argv: list[str] | None = None) -> int:
    """`python -m labqueue.events REDIS_URL QUEUE [SINCE]`: print events as JSON lines until killed.

    Errors are one line on stderr, never a traceback nor the password: a bad URL or a server that
    refuses us (authentication, permissions) exits 2, a server that cannot be reached exits 1.
    """
    import sys

    import redis

    from .connection import connect, mask_url, refused
    from .errors import ConfigError

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m labqueue.events REDIS_URL QUEUE [SINCE (default $)]", file=sys.stderr)
        return 2

    def fail(message: str, status: int) -> int:
        print(f"labqueue.events: error: {message}", file=sys.stderr, flush=True)
        return status

    try:
        listener = QueueEvents(connect(args[0], decode_responses=False), args[1],
                               last_id=args[2] if len(args) > 2 else "$")
        listener._pin()  # before saying so: every event written after "listening" is seen
        print(json.dumps({"event": "listening"}), flush=True)
        while True:
            for e in listener.poll(block_ms=1000):
                print(json.dumps({"id": e.stream_id, "event": e.event, "job": e.job_id, **e.fields}), flush=True)
    except ConfigError as exc:
        return fail(str(exc), 2)
    except redis.RedisError as exc:
        if refused(exc):
            return fail(refused(exc), 2)
        return fail(f"cannot read events from {mask_url(args[0])}: {type(exc).__name__}: {exc}", 1)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
