"""What the notebooks show of the code: the Lua each traced operation ran, and the chapter's lines behind each pitfall."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest

import labqueue as lq
from labqueue import scripts
from labqueue.lab import chapter, lua, plots
from labqueue.lab.driven import beside
from labqueue.lab.trace import Tracer

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def text_of(markup: str) -> str:
    """What a reader sees of some HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def traced_reliable(r):
    t = Tracer(r)
    q = lq.ReliableQueue(t.client, "sources", lease_seconds=5)
    with t.record("enqueue"):
        q.enqueue({"type": "send_email"}, job_id="j1")
    with t.record("dequeue"):
        job = q.dequeue(timeout=1)
    with t.record("ack"):
        q.ack(job)
    return t


def evalsha_scripts(t: Tracer) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in t.commands:
        if c.name.startswith("EVALSHA "):
            out.setdefault(c.operation, [])
            if c.name[8:] not in out[c.operation]:
                out[c.operation].append(c.name[8:])
    return out


def test_tracer_names_the_scripts_each_operation_ran(r):
    """Tracer.scripts_by_operation() lists, per operation, exactly the scripts it sent with EVALSHA."""
    t = traced_reliable(r)
    ran = t.scripts_by_operation()
    assert ran == evalsha_scripts(t) and ran, t.summary()
    assert ran["enqueue"] == ["enqueue.lua"]          # an id of ours ("j1") is checked: one script
    assert t.scripts() == [name for used in ran.values() for name in used]
    assert all(name.endswith(".lua") for name in t.scripts())


def shown_whole(name: str, shown: str) -> bool:
    """The script's file and every file it includes (what Redis runs, scripts.source) are in `shown`."""
    text = lua.source(name)
    libs = scripts.INCLUDE.findall(text)
    resolved = text
    for lib in libs:
        resolved = resolved.replace(f"--- @include {lib}", lua.source(lib).rstrip("\n"))
    return (resolved == scripts.source(name[:-4]) and text.strip() in shown
            and all(lua.source(lib).strip() in shown for lib in libs))


def test_side_by_side_shows_the_source_of_every_script_run(r):
    """plots.side_by_side puts the full source of each script an operation ran next to its commands."""
    t = traced_reliable(r)
    shown = text_of(plots.side_by_side("diagram", t).data)
    assert t.scripts(), "the reliable queue's dequeue and ack run Lua"
    for name in t.scripts():
        assert f"labqueue/scripts/{name}" in shown
        assert shown_whole(name, shown), f"{name}: source not shown whole"


def test_beside_shows_the_lua_of_a_traced_table(r):
    """driven.beside(diagram, tracer.table()) shows the Lua those operations ran."""
    t = traced_reliable(r)
    shown = text_of(beside("diagram", t.table()).data)
    for name in t.scripts():
        assert shown_whole(name, shown)


def test_no_lua_shown_when_no_script_ran(r):
    """A simple queue's trace (LPUSH / BRPOP) shows no Lua block, and lua.show says why."""
    t = Tracer(r)
    q = lq.SimpleQueue(t.client, "plain")
    with t.record("enqueue"):
        q.enqueue({"type": "x"})
    assert t.scripts() == [] and lua.html_for(t) == ""
    assert "lq-lua" not in plots.side_by_side("diagram", t).data
    assert "no Lua script ran" in lua.show(t).data


def test_lua_source_is_read_from_the_script_files():
    """lua.source() is the file's text now, for every script; unknown names get a clear error."""
    assert lua.names() and all(n.endswith(".lua") for n in lua.names())
    for name in lua.names():
        path = Path(scripts.__file__).parent / name
        assert lua.source(name) == path.read_text(encoding="utf-8") == lua.source(name[:-4])
        assert path.read_text(encoding="utf-8").strip() in text_of(lua.script_html(name))
    with pytest.raises(ValueError, match="no labqueue script named 'nope'"):
        lua.source("nope")


def chapter_path() -> Path | None:
    candidates = [os.environ.get("LABQUEUE_CHAPTER", "")]
    candidates += [str(p / "shared" / "seed" / chapter.CHAPTER) for p in ROOT.parents]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def test_chapter_excerpts_are_the_chapters_lines_verbatim():
    """Every excerpt of every pitfall is, character for character, lines first..last of the chapter."""
    path = chapter_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{chapter.CHAPTER} not found: set LABQUEUE_CHAPTER")
        pytest.skip(f"{chapter.CHAPTER} not found (set LABQUEUE_CHAPTER)")
    lines = path.read_text(encoding="utf-8").splitlines()
    for pitfall in chapter.PITFALLS.values():
        assert pitfall.excerpts, pitfall.key
        for e in pitfall.excerpts:
            assert 1 <= e.first <= e.last <= len(lines)
            assert e.text == "\n".join(lines[e.first - 1:e.last]), f"{pitfall.key}: lines {e.first}-{e.last}"


def test_chapter_show_displays_the_excerpts_and_the_reason():
    """show_chapter(key) shows the section, the line numbers, every excerpt and why it breaks."""
    p = chapter.PITFALLS["ack_bug"]
    shown = text_of(chapter.show_chapter("ack_bug").data)
    assert p.section in shown and "lines 537-541, 552-555" in shown and p.why in shown
    for e in p.excerpts:
        assert e.text.strip() in shown
    with pytest.raises(ValueError, match="no pitfall named 'nope'"):
        chapter.show_chapter("nope")


def test_every_pitfall_is_shown_in_its_notebook():
    """Each pitfall's excerpt is displayed by the notebook it belongs to (show_chapter("key") in a code cell)."""
    shown: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                for key in re.findall(r'show_chapter\("(\w+)"\)', "".join(cell["source"])):
                    shown.setdefault(key, set()).add(path.name.split("_")[0])
    for key, pitfall in chapter.PITFALLS.items():
        assert pitfall.notebook in shown.get(key, set()), f"{key} is not shown in notebook {pitfall.notebook}"
    assert set(shown) <= set(chapter.PITFALLS), set(shown) - set(chapter.PITFALLS)
