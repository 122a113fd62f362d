"""Small helpers shared by the core tests."""

from __future__ import annotations

import threading
from pathlib import Path
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


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
