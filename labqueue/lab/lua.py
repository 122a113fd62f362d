"""Show the Lua a traced operation ran: the source of `labqueue/scripts/<name>.lua`, syntax-highlighted.

The source is read from the package's script files when shown (never a copy), so the notebook
shows exactly what the installed labqueue runs. `Tracer.scripts()` names the scripts an operation
sent with EVALSHA; `plots.side_by_side` and `driven.beside` call `html_for()` to put them next to
the traced commands.

    show(tracer)             # every script the recorded operations ran, in order
    show("lease")            # one script by name (with or without .lua)
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from importlib.resources import files
from typing import Any

from .. import scripts
from .i18n import _

BOX = ("border:1px solid #d0d7de;border-radius:4px;margin:4px 0;background:#f6f8fa;color:#1f2328;"
       "max-height:28em;overflow:auto")


def names() -> list[str]:
    """Every labqueue script file name (`lease.lua`, ...), sorted."""
    return sorted(e.name for e in files(scripts.__name__).iterdir() if e.name.endswith(".lua"))


def source(name: str) -> str:
    """The Lua source of script `name` (`lease` or `lease.lua`), read from its file now."""
    stem = name[:-4] if name.endswith(".lua") else name
    if f"{stem}.lua" not in names():
        raise ValueError(f"no labqueue script named {name!r}; scripts: {', '.join(names())}")
    return (files(scripts.__name__) / f"{stem}.lua").read_text(encoding="utf-8")


def highlight(code: str, language: str = "lua") -> str:
    """HTML of `code` highlighted by pygments, with inline styles (renders the same in nbconvert pages)."""
    from pygments import highlight as pyg_highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    formatter = HtmlFormatter(noclasses=True, nobackground=True, style="default", linenos=False)
    return pyg_highlight(code, get_lexer_by_name(language), formatter)


def script_html(name: str, used_by: Iterable[str] = ()) -> str:
    """One script as an HTML block: its file name, the operations that ran it, its highlighted source,
    then (closed) each file it includes (`--- @include jq_lib`): together, what Redis runs."""
    stem = name[:-4] if name.endswith(".lua") else name
    ops = ", ".join(html.escape(op) for op in used_by)
    ran_in = " &nbsp;" + _("ran in: {operations}").format(operations=ops) if ops else ""
    caption = f"<code>labqueue/scripts/{html.escape(stem)}.lua</code>{ran_in}"
    text = source(stem)
    libs, todo = [], scripts.INCLUDE.findall(text)
    while todo:  # what it includes, and what those include
        lib = todo.pop(0)
        if lib not in libs:
            libs.append(lib)
            todo += scripts.INCLUDE.findall(source(lib))
    included_by = html.escape(_("included by {script}").format(script=f"{stem}.lua"))
    included = "".join(
        f"<details class='lq-lua'><summary style='cursor:pointer'><code>labqueue/scripts/{html.escape(lib)}.lua"
        f"</code> &nbsp;{included_by}</summary><div style='{BOX}'>{highlight(source(lib))}</div>"
        "</details>" for lib in libs)
    return (f"<details open class='lq-lua'><summary style='cursor:pointer'>{caption}</summary>"
            f"<div style='{BOX}'>{highlight(text)}</div></details>{included}")


def _scripts_of(what: Any) -> dict[str, list[str]]:
    """script name -> operations that ran it, from a Tracer, a {op: [scripts]} map, or names."""
    if hasattr(what, "scripts_by_operation"):
        what = what.scripts_by_operation()
    found: dict[str, list[str]] = {}
    if isinstance(what, Mapping):
        for op, used in what.items():
            for name in used:
                found.setdefault(name, []).append(op)
    elif isinstance(what, str):
        found[what] = []
    else:
        for name in what:
            found.setdefault(name, [])
    return found


def html_for(what: Any) -> str:
    """HTML of every script in `what` (a Tracer, {operation: [script, ...]}, or script names); '' if none."""
    found = _scripts_of(what)
    if not found:
        return ""
    blocks = "".join(script_html(name, ops) for name, ops in found.items())
    heading = html.escape(_("the Lua it ran"))
    note = html.escape(_("(atomic: Redis runs each script whole, no other command in between)"))
    return f"<div style='margin-top:0.5em'><b>{heading}</b> {note}</div>{blocks}"


def show(what: Any) -> Any:
    """Display the Lua of a Tracer's operations, or of the scripts named, syntax-highlighted."""
    from IPython.display import HTML

    body = html_for(what)
    if not body:
        body = "<i>" + html.escape(_("no Lua script ran: every step was a single Redis command")) + "</i>"
    return HTML(body)


__all__ = ["highlight", "html_for", "names", "script_html", "show", "source"]
