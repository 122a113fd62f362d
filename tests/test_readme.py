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


FRENCH = README.parent / "README.fr.md"


def test_the_french_readme_gives_the_two_commands_binder_and_every_french_notebook():
    """README.fr.md: the two commands, a Binder badge on the French landing page, the French notebooks, the glossary."""
    import re

    text = FRENCH.read_text(encoding="utf-8")
    assert "make lab-fr" in text and "make test" in text
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)]*urlpath=lab/tree/([^)&]+)\)", text)
    assert badge and badge.group(1) == "notebooks/fr/index.ipynb", badge
    assert (README.parent / badge.group(1)).is_file()
    french = sorted(p.stem for p in (README.parent / "notebooks" / "fr").glob("*.ipynb"))
    english = sorted(p.stem for p in (README.parent / "notebooks").glob("*.ipynb"))
    assert french == english, "every notebook has a French twin in notebooks/fr/"
    missing = [stem for stem in french if f"`{stem}`" not in text]
    assert not missing, f"README.fr.md's table does not name {missing}"
    glossary = text.split("## Glossaire français-anglais", 1)
    assert len(glossary) == 2 and glossary[1].count("\n|") >= 20, "README.fr.md has no glossary table"
    assert "README.fr.md" in README.read_text(encoding="utf-8"), "README.md does not point to the French README"
