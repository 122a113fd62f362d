"""The lab's structure for students and teachers: each lesson opens with its objectives and ends with a recap;
the landing page leads to every lesson and its classroom demo points at sections that exist. The French lab
(notebooks/fr/) is held to the same, with the French headings fixed for it (Ce que vous allez apprendre,
Récapitulatif, ...); its tests run over the French notebooks that exist (they land one by one)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if p.name[:2].isdigit())
INDEX = NOTEBOOKS / "index.ipynb"
OPENING = ["What you will learn", "What you will do", "Time", "Assumes"]
FRENCH = NOTEBOOKS / "fr"
LESSONS_FR = sorted(p for p in FRENCH.glob("*.ipynb") if p.name[:2].isdigit())
INDEX_FR = FRENCH / "index.ipynb"
OPENING_FR = ["Ce que vous allez apprendre", "Ce que vous allez faire", "Durée", "Prérequis"]


def cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [{**c, "text": "".join(c["source"])} for c in nb["cells"]]


def label(text: str, name: str) -> str | None:
    """The text after a bold label (`**Time.** ...`) or under a heading (`## Time`), None when absent."""
    m = re.search(rf"(?:\*\*{re.escape(name)}[.:]?\*\*[.:]?|^#+ {re.escape(name)}\s*$)\s*(.+?)(?=\n\s*\n|\Z)",
                  text, re.S | re.M)
    return m.group(1).strip() if m else None


def headings(path: Path) -> set[str]:
    return {line.lstrip("#").strip() for c in cells(path) if c["cell_type"] == "markdown"
            for line in c["text"].splitlines() if re.match(r"#+ ", line)}


def test_lessons_found():
    """The numbered notebooks are there (00 to 11, 02 and 08 in two parts)."""
    assert len(LESSONS) >= 14, [p.name for p in LESSONS]


def check_opening(path: Path, names: list[str], time: str) -> None:
    first = cells(path)[:3]
    assert first[0]["cell_type"] == "markdown" and first[0]["text"].startswith("# "), "no title cell"
    opening = "\n\n".join(c["text"] for c in first if c["cell_type"] == "markdown")
    for name in names:
        assert label(opening, name), f"{path.name}: the opening does not say '{name}'"
    assert re.search(r"\d+\s*minutes", label(opening, time) or ""), f"{path.name}: {time} gives no minutes"


def check_recap(path: Path, recap: str, further_heading: str, chapter: str) -> None:
    last = cells(path)[-1]
    assert last["cell_type"] == "markdown", f"{path.name}: the last cell is not the recap"
    m = re.search(rf"^## {recap}\s*\n(.*?)^## {further_heading}\s*\n(.*)", last["text"], re.S | re.M)
    assert m, f"{path.name}: the last cell has no '## {recap}' then '## {further_heading}'"
    points = [line for line in m.group(1).splitlines() if re.match(r"\s*(?:[-*]|\d+\.)\s+\S", line)]
    assert len(points) == 3, f"{path.name}: the recap has {len(points)} points, not 3"
    further = m.group(2)
    assert re.search(r"\(https://redis\.io/docs/[^)]+\)", further), f"{path.name}: no link to the Redis docs"
    assert re.search(chapter, further), f"{path.name}: no chapter section named"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_opens_with_objectives_time_and_assumptions(path):
    """A title, then what you will learn and do, the time it takes (minutes) and what it assumes."""
    check_opening(path, OPENING, "Time")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_ends_with_a_three_line_recap_and_where_to_go_further(path):
    """The last cell: '## Recap' with exactly three points, then '## Going further' (Redis docs, the chapter)."""
    check_recap(path, "Recap", "Going further", r"chapter: section « [^»]+ »")


@pytest.mark.parametrize("path", LESSONS_FR, ids=lambda p: p.stem)
def test_french_lesson_opens_with_objectives_time_and_assumptions(path):
    """The same opening in French: Ce que vous allez apprendre / faire, Durée (in minutes), Prérequis."""
    check_opening(path, OPENING_FR, "Durée")


@pytest.mark.parametrize("path", LESSONS_FR, ids=lambda p: p.stem)
def test_french_lesson_ends_with_a_three_line_recap_and_where_to_go_further(path):
    """The last cell: '## Récapitulatif' with three points, then '## Pour aller plus loin' (Redis docs, the chapter)."""
    check_recap(path, "Récapitulatif", "Pour aller plus loin", r"[Cc]hapitre : (?:la |les )?sections? « [^»]+ »")


def test_landing_page_links_every_lesson_and_only_existing_notebooks():
    """index.ipynb has the learning path and the classroom demo, links every lesson, and every link works."""
    text = "\n".join(c["text"] for c in cells(INDEX))
    assert "## The learning path" in text and "## A 20-minute classroom demo" in text
    links = set(re.findall(r"\]\(([^)#\s]+\.ipynb)", text))
    for lesson in LESSONS:
        assert lesson.name in links, f"the landing page does not link {lesson.name}"
    for link in links:
        assert (NOTEBOOKS / link).is_file(), f"the landing page links {link}, which does not exist"
    assert all(c["cell_type"] == "markdown" for c in cells(INDEX)), "the landing page needs no kernel"


def check_demo(index: Path, title: str) -> None:
    demo = next(c["text"] for c in cells(index) if title in c["text"])
    rows = [line for line in demo.splitlines() if re.match(r"\|\s*\d+-\d+\s*\|", line)]
    assert len(rows) >= 4, demo
    minutes = 0
    for row in rows:
        start, end = map(int, re.match(r"\|\s*(\d+)-(\d+)", row).groups())
        assert start == minutes, f"the demo jumps from minute {minutes} to {start}"
        minutes = end
        target = re.search(r"\]\(([^)]+\.ipynb)\)", row).group(1)
        section = re.search(r"section \*\*(.+?)\*\*", row).group(1)
        if (index.parent / target).is_file() or index.parent == NOTEBOOKS:
            assert section in headings(index.parent / target), f"{target} has no section '{section}'"
    assert minutes == 20, f"the demo lasts {minutes} minutes"


def test_classroom_demo_points_at_sections_that_exist():
    """Each row of the 20-minute demo names a notebook and a section heading that notebook really has."""
    check_demo(INDEX, "## A 20-minute classroom demo")


def french_links(text: str) -> set[str]:
    return set(re.findall(r"\]\(([^)#\s]+\.ipynb)", text))


@pytest.mark.skipif(not INDEX_FR.is_file(), reason="no French landing page yet")
def test_french_landing_page_links_every_french_lesson_and_only_existing_notebooks():
    """notebooks/fr/index.ipynb: the learning path and the demo, a link to every French lesson there is, and
    every link opens a notebook: a French twin (relative link), or an English page through '../'. A French
    twin still to be written is allowed only while its English notebook exists (its link works once it lands)."""
    text = "\n".join(c["text"] for c in cells(INDEX_FR))
    assert "## Le parcours" in text and "## Une démo de 20 minutes en classe" in text
    links = french_links(text)
    for lesson in LESSONS_FR:
        assert lesson.name in links, f"the French landing page does not link {lesson.name}"
    for lesson in LESSONS:
        assert lesson.name in links, f"the French landing page does not link (the French twin of) {lesson.name}"
    for link in links:
        target = (FRENCH / link).resolve()
        assert target.is_file() or ("/" not in link and (NOTEBOOKS / link).is_file()), (
            f"the French landing page links {link}, which does not exist (in French or in English)")
        assert target.is_relative_to(NOTEBOOKS), f"the French landing page links {link}, outside notebooks/"
    assert "../index.ipynb" in links, "the French landing page does not lead to the English lab"
    assert all(c["cell_type"] == "markdown" for c in cells(INDEX_FR)), "the landing page needs no kernel"


@pytest.mark.skipif(not INDEX_FR.is_file(), reason="no French landing page yet")
def test_french_classroom_demo_points_at_french_sections_that_exist():
    """Each row of the French demo names a French notebook and one of its French headings (rows whose
    notebook is not translated yet are checked once it is)."""
    check_demo(INDEX_FR, "## Une démo de 20 minutes en classe")


@pytest.mark.parametrize("path", LESSONS_FR, ids=lambda p: p.stem)
def test_french_lesson_links_open_notebooks_that_exist(path):
    """Links between French notebooks stay relative (their French twins); any other notebook is reached with '../'."""
    text = "\n".join(c["text"] for c in cells(path) if c["cell_type"] == "markdown")
    for link in french_links(text):
        assert (FRENCH / link).is_file() or ("/" not in link and (NOTEBOOKS / link).is_file()), (
            f"{path.name} links {link}, which does not exist (in French or in English)")


def test_readme_opens_the_landing_page_and_lists_every_notebook():
    """The Binder badge opens the landing page; the README's notebook table names every notebook that exists."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)]*urlpath=lab/tree/([^)&]+)\)", readme)
    assert badge and badge.group(1) == "notebooks/index.ipynb", badge
    listed = set(re.findall(r"^\| `([\w]+)` \|", readme, re.M))
    for path in NOTEBOOKS.glob("*.ipynb"):
        assert path.stem in listed, f"README's notebook table does not list {path.stem}"
    for stem in listed:
        assert (NOTEBOOKS / f"{stem}.ipynb").is_file(), f"README lists {stem}, which does not exist"


def referenced_notebooks(text: str) -> set[str]:
    """Notebook numbers named in prose: 'notebook 02b', 'notebooks 02a, 02b and 06', 'Notebook 09'."""
    found: set[str] = set()
    for m in re.finditer(r"\b[Nn]otebooks? (\d\d[a-z]?\b(?:(?:,| and| or|,? then| et| ou|,? puis)? \d\d[a-z]?\b)*)",
                         text):
        found.update(re.findall(r"\d\d[a-z]?", m.group(1)))
    return found


def test_references_to_notebooks_name_notebooks_that_exist():
    """Every 'notebook NN' in the notebooks, the lab package and the README names an existing notebook (02 and 08 are
    now 02a/02b and 08a/08b)."""
    numbers = {p.name.split("_")[0] for p in NOTEBOOKS.glob("*.ipynb") if p.name[:2].isdigit()}
    sources = {p: "\n".join(c["text"] for c in cells(p)) for p in [*NOTEBOOKS.glob("*.ipynb"), *FRENCH.glob("*.ipynb")]}
    sources.update({p: p.read_text(encoding="utf-8") for p in (ROOT / "labqueue").rglob("*.py")})
    sources[ROOT / "README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = sorted(f"{path.relative_to(ROOT)}: notebook {n}" for path, text in sources.items()
                   for n in referenced_notebooks(text) if n not in numbers)
    assert not stale, stale


def test_reference_finder_reads_lists_of_notebooks():
    """The finder used above sees every number of a list, and only numbers."""
    assert referenced_notebooks("see notebooks 02a, 02b and 06; notebook 09 too") == {"02a", "02b", "06", "09"}
    assert referenced_notebooks("(notebook 02) and Notebook 08, then") == {"02", "08"}
    assert referenced_notebooks("a notebook is a lesson, 20 notebooks") == set()
    assert referenced_notebooks("les notebooks 02a et 02b, puis le notebook 09") == {"02a", "02b", "09"}


ACK_BY_ID = re.compile(r"\b(?:by (?:its |their )?id|par (?:son|leur) identifiant)\b", re.I)


def ack_by_id_claims(path: Path) -> list[str]:
    """Sentences of a lesson's text saying that ack or nack finds or removes a job by its id."""
    found = []
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for sentence in re.split(r"(?<=[.;:])\s+", cell["text"]):
            if re.search(r"\b[Nn]?ack\b", sentence) and ACK_BY_ID.search(sentence):
                found.append(" ".join(sentence.split()))
    return found


@pytest.mark.parametrize("path", LESSONS + LESSONS_FR, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_lessons_say_a_reliable_ack_acts_on_the_delivery_token(path):
    """ack and nack find a job by its delivery token (`job.token`, the exact entry kept in `inflight`), never by
    its id: a lesson saying "by id" contradicts notebook 02a's own section 1 and the scripts."""
    claims = ack_by_id_claims(path)
    assert not claims, f"{path.relative_to(NOTEBOOKS)} says ack/nack works by id: {claims}"


def sentences(path: Path, ends: str = ".;:") -> list[str]:
    """The sentences of a lesson's text cells (split after each of `ends`), whitespace folded."""
    return [" ".join(s.split()) for cell in cells(path) if cell["cell_type"] == "markdown"
            for s in re.split(rf"(?<=[{re.escape(ends)}])\s+", cell["text"])]


def test_the_scripts_count_a_delivery_when_they_hand_the_job_out():
    """claim.lua adds 1 to the job's delivery count as it hands the job out; nack.lua only reads it (its one
    HINCRBY takes back the count of a released delivery), which the test below holds the lessons to."""
    scripts = ROOT / "labqueue" / "scripts"
    claim, nack = (scripts / "claim.lua").read_text(), (scripts / "nack.lua").read_text()
    assert "redis.pcall('HINCRBY', KEYS[4], id, 1)" in claim
    assert re.findall(r"HINCRBY'?, KEYS\[4\], id, (-?\d+)", nack) == ["-1"]


@pytest.mark.parametrize("path", LESSONS + LESSONS_FR, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_lessons_do_not_say_nack_counts_the_delivery(path):
    """A lesson saying that nack.lua counts the failed delivery contradicts the script (and the trace of
    notebook 06 beside the sentence, where nack.lua sends HGET, not HINCRBY)."""
    claims = [s for s in sentences(path) if "nack.lua" in s
              and re.search(r"\bcounts the delivery\b|\bcompte la livraison\b", s)]
    assert not claims, f"{path.relative_to(NOTEBOOKS)} says nack.lua counts the delivery: {claims}"


@pytest.mark.parametrize("path", LESSONS + LESSONS_FR, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_lessons_do_not_call_bullmq_backoff_capped(path):
    """BullMQ's exponential backoff is delay·2^(attemptsMade−1), without a cap (nor a factor): the cap is
    labqueue's own. A lesson calling BullMQ's formula capped misleads whoever sets attempts: 20 on BullMQ."""
    claims = [s for s in sentences(path, ".;") if "BullMQ" in s and re.search(r"\bcapped\b|\bplafonnée?\b", s)]
    assert not claims, f"{path.relative_to(NOTEBOOKS)} calls BullMQ's backoff capped: {claims}"


def unbounded_waits(path: Path) -> list[str]:
    """The first line of each `while` loop of a lesson's code cells that sleeps but names no deadline."""
    import ast

    found = []
    for cell in cells(path):
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in cell["text"].splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.While):
                loop = ast.get_source_segment(source, node) or ""
                if "sleep(" in loop and "deadline" not in loop:
                    found.append(loop.splitlines()[0])
    return found


@pytest.mark.parametrize("path", LESSONS + LESSONS_FR, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_lessons_never_wait_without_a_deadline(path):
    """A cell that polls until something happens (a `while` loop that sleeps) gives up at a deadline with an
    assert saying what it waited for: a worker that died would otherwise hang the lesson, and nbval, for ever."""
    loops = unbounded_waits(path)
    assert not loops, f"{path.relative_to(NOTEBOOKS)} waits without a deadline: {loops}"


# calls whose value IPython prints under a cell that ends with them: a count of deleted keys, an experiment's repr
NOISY_ENDINGS = {"launch", "delete", "clear", "obliterate"}
# the lessons reviewed for it so far
QUIET_LESSONS = ["04_delayed_jobs.ipynb", "05_cron_scheduling.ipynb", "06_retries_backoff_dlq.ipynb",
                 "07_monitoring.ipynb", "09_best_practices.ipynb", "11_performance.ipynb"]


def noisy_endings(path: Path) -> list[str]:
    """The last lines of code cells ending with a bare call of NOISY_ENDINGS (its value shown as the cell's result)."""
    import ast

    found = []
    for cell in cells(path):
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in cell["text"].splitlines() if not line.lstrip().startswith(("%", "!")))
        body = ast.parse(source).body
        last = body[-1] if body else None
        if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and isinstance(last.value.func, ast.Attribute) and last.value.func.attr in NOISY_ENDINGS):
            found.append(ast.get_source_segment(source, last))
    return found


@pytest.mark.parametrize("path", [p for p in LESSONS + LESSONS_FR if p.name in QUIET_LESSONS],
                         ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_cells_do_not_end_with_a_value_nobody_reads(path):
    """A cell that ends with a clean-up (r.delete, q.clear) or panel.launch shows its return value (`2`, `1`,
    `<labqueue.lab.retries.EmailExperiment at 0x7f...>`) as if it were the result of the experiment."""
    endings = noisy_endings(path)
    assert not endings, f"{path.relative_to(NOTEBOOKS)}: cells end with {endings}"
