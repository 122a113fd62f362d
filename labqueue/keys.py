"""Every Redis key labqueue uses, built in one place.

All keys of one queue share the hash tag ``{name}`` (``lq:{emails}:waiting``), so they live in one
Redis Cluster slot and every multi-key script is cluster safe.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "lq"


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

    # Lists of serialised jobs.
    @property
    def waiting(self) -> str:
        return self.key("waiting")

    @property
    def processing(self) -> str:
        return self.key("processing")

    # In-flight bookkeeping of the reliable queue.
    @property
    def leases(self) -> str:
        """Sorted set: job id -> lease deadline (unix seconds)."""
        return self.key("leases")

    @property
    def inflight(self) -> str:
        """Hash: job id -> the exact serialised job that sits in the processing list."""
        return self.key("inflight")

    @property
    def attempts(self) -> str:
        """Hash: job id -> deliveries so far."""
        return self.key("attempts")

    @property
    def orphans(self) -> str:
        """Hash: job id -> when recovery first saw it in processing without a lease."""
        return self.key("orphans")

    @property
    def dlq(self) -> str:
        """Hash: job id -> the dead-lettered job, exactly as it was queued."""
        return self.key("dlq")

    @property
    def dlq_meta(self) -> str:
        """Hash: job id -> {"reason", "failed_at", "attempts"} of its dead-letter entry."""
        return self.key("dlq:meta")

    # Sorted sets.
    @property
    def priority(self) -> str:
        return self.key("priority")

    @property
    def seq(self) -> str:
        """Counter giving FIFO order among equal priorities."""
        return self.key("seq")

    @property
    def delayed(self) -> str:
        """Sorted set: serialised job -> run-at time (unix seconds)."""
        return self.key("delayed")

    @property
    def wake(self) -> str:
        """List used to wake a sleeping scheduler early (at most one token)."""
        return self.key("wake")

    @property
    def cron(self) -> str:
        """Hash: schedule name -> schedule definition (JSON)."""
        return self.key("cron")

    @property
    def cron_last(self) -> str:
        """Hash: schedule name -> run-at time of the last occurrence enqueued."""
        return self.key("cron:last")

    @property
    def quarantine_seq(self) -> str:
        """Counter numbering the keys moved aside."""
        return self.key("quarantine:seq")

    def quarantine(self, n: int) -> str:
        """Where a key of the wrong Redis type is moved aside (RENAME), numbered n."""
        return self.key(f"quarantine:{n}")

    def all(self) -> list[str]:
        """Every fixed key of this queue (for `clear`)."""
        return [
            self.waiting, self.processing, self.leases, self.inflight, self.attempts, self.orphans,
            self.dlq, self.dlq_meta, self.priority, self.seq, self.delayed, self.wake, self.cron, self.cron_last,
            self.quarantine_seq,
        ]
