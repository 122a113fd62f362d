"""Exceptions raised by labqueue, each naming what was wrong."""

from __future__ import annotations


class LabqueueError(Exception):
    """Base class of every labqueue error."""


class InvalidJob(LabqueueError, ValueError):
    """A job cannot be enqueued as given (bad data, bad option); nothing was written to Redis."""


class DuplicateJob(InvalidJob):
    """A job with this id is already in the queue (waiting, in flight or waiting for a retry)."""


class PayloadTooLarge(InvalidJob):
    """The serialised job is larger than the queue's `max_payload_bytes`."""


class ConfigError(LabqueueError, ValueError):
    """A setting is invalid: a Redis URL, a backoff policy, a cron expression, a time zone."""


class ReplayRefused(LabqueueError):
    """A dead letter named for replay cannot go back as asked (a cron schedule that still cannot run, or
    whose name is in use again); nothing was replayed and every entry stays in the dead-letter queue."""
