"""Small helpers shared by the core tests."""

from __future__ import annotations

import threading
from typing import Any


class CommandCounter:
    """Counts the commands a client sends (wraps its execute_command)."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self.names: list[str] = []
        self._lock = threading.Lock()
        original = client.execute_command

        def counting(*args: Any, **options: Any) -> Any:
            with self._lock:
                self.count += 1
                self.names.append(str(args[0]))
            return original(*args, **options)

        client.execute_command = counting
