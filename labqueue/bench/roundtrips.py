"""Count the round trips a piece of code makes: every command or script call a client sends.

`with count_round_trips(client) as trips: ...; trips.count`. It wraps the client's
`execute_command` (plain commands, EVALSHA of every labqueue script); commands run inside a Lua
script are not round trips and are not counted. Pipelines are not wrapped (none is used on the
paths it is meant for: enqueue, claim, ack).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RoundTrips:
    count: int = 0
    commands: Counter[str] = field(default_factory=Counter)


@contextmanager
def count_round_trips(client: Any) -> Iterator[RoundTrips]:
    trips = RoundTrips()
    original = client.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        trips.count += 1
        trips.commands[str(args[0]).upper()] += 1
        return original(*args, **options)

    client.execute_command = counted
    try:
        yield trips
    finally:
        del client.execute_command
