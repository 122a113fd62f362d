"""Every Redis key labqueue uses, built in one place.

All keys of one queue share the hash tag ``{name}`` (``lq:{emails}:waiting``), so they live in one
Redis Cluster slot and every multi-key script is cluster safe.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "lq"


class QueueKey(property):
    """A key of a queue, `lq:{name}:<suffix>`, declared with the Redis type labqueue stores there: a
    key found holding another type is moved aside (labqueue.quarantine)."""

    def __init__(self, suffix: str, kind: str, doc: str) -> None:
        super().__init__(lambda keys: keys.key(suffix))
        self.__doc__ = doc  # (a property subclass would show its class's docstring instead)
        self.suffix, self.kind = suffix, kind


def glob_escape(text: str) -> str:
    """`text` matched literally in a Redis glob pattern (SCAN MATCH, KEYS)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@dataclass(frozen=True)
class Keys:
    """Key names of the queue called `name`."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"queue name must be a non-empty string, got {self.name!r}")
        if any(c in self.name for c in "{}"):
            raise ValueError(f"queue name must not contain braces (they form the hash tag): {self.name!r}")

    def key(self, suffix: str) -> str:
        """The key `lq:{name}:suffix`."""
        return f"{PREFIX}:{{{self.name}}}:{suffix}"

    # Each key is declared once with the Redis type labqueue stores there: `typed()` (quarantine) and
    # `all()` (clear) are derived from these declarations, never from a second list.
    dlq = QueueKey("dlq", "hash", "Hash: job id -> the dead-lettered job, exactly as it was queued.")
    dlq_meta = QueueKey("dlq:meta", "hash", 'Hash: job id -> {"reason", "failed_at", "attempts"} of its '
                        "dead-letter entry.")
    waiting = QueueKey("waiting", "list", "List of serialised jobs waiting.")
    processing = QueueKey("processing", "list", "List of serialised jobs in flight (reliable queue).")
    leases = QueueKey("leases", "zset", "Sorted set: job id -> lease deadline (unix seconds).")
    inflight = QueueKey("inflight", "hash", "Hash: job id -> the exact serialised job that sits in the "
                        "processing list.")
    attempts = QueueKey("attempts", "hash", "Hash: job id -> deliveries so far.")
    orphans = QueueKey("orphans", "hash", "Hash: job id -> when recovery first saw it in processing without "
                       "a lease.")
    priority = QueueKey("priority", "zset", "Sorted set: serialised job -> priority score.")
    seq = QueueKey("seq", "string", "Counter giving FIFO order among equal priorities.")
    delayed = QueueKey("delayed", "zset", "Sorted set: serialised job -> run-at time (unix seconds).")
    wake = QueueKey("wake", "list", "List used to wake a sleeping scheduler early (at most one token).")
    cron = QueueKey("cron", "hash", "Hash: schedule name -> schedule definition (JSON).")
    cron_last = QueueKey("cron:last", "hash", "Hash: schedule name -> run-at time of the last occurrence "
                         "enqueued.")
    quarantine_seq = QueueKey("quarantine:seq", "string", "Counter numbering the keys moved aside.")

    def match(self, suffix_glob: str) -> str:
        """A SCAN MATCH pattern for this queue's keys `lq:{name}:<suffix_glob>`: the name's glob characters
        are escaped, so queue 'a*' never matches queue 'abc's keys (a name may hold * ? [ ] \\)."""
        return f"{PREFIX}:{{{glob_escape(self.name)}}}:{suffix_glob}"

    def quarantine(self, n: int) -> str:
        """Where a key of the wrong Redis type is moved aside (RENAME), numbered n."""
        return self.key(f"quarantine:{n}")

    @classmethod
    def types(cls) -> dict[str, str]:
        """Attribute -> Redis type of every key this class declares or inherits (a subclass's wins), the
        dead-letter queue's first (quarantine records what it moves there)."""
        found: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            found.update((name, v.kind) for name, v in vars(klass).items() if isinstance(v, QueueKey))
        return dict(sorted(found.items(), key=lambda item: item[0] not in ("dlq", "dlq_meta")))

    def typed(self) -> list[tuple[str, str, str]]:
        """(attribute, key, Redis type) of every key of this queue with a fixed type (see `types`)."""
        return [(name, getattr(self, name), kind) for name, kind in self.types().items()]

    def all(self) -> list[str]:
        """Every fixed key of this queue kind (for `clear`): the keys declared on its own class."""
        return [getattr(self, name) for name, v in vars(type(self)).items() if isinstance(v, QueueKey)]
