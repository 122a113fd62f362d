"""The README's quick start runs as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quick_start_runs_as_written(tmp_path):
    """The first Python block of the README runs in a fresh interpreter, asserts included."""
    code = README.read_text(encoding="utf-8").split("```python\n")[1].split("```")[0]
    assert 20 <= len(code.strip().splitlines()) <= 30
    script = tmp_path / "quickstart.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items() if k != "REDIS_URL"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "10 sent;" in done.stdout and "DLQ: send_email - ConnectionError: SMTP timeout" in done.stdout
