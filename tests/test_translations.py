"""One source of code: each French notebook (notebooks/fr/) has the code of its English twin.

Same cells, in the same order, with the same ids, types, tags and exercise metadata; every code cell
identical to its twin once comments and string literals are set aside (prose, labels and messages are
translated; the code is not). A fix in one language that misses the other fails here.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FRENCH = NOTEBOOKS / "fr"
TWINS = sorted(p for p in FRENCH.glob("*.ipynb"))


def code_shape(source: str) -> list[str]:
    """The code of a cell without comments and string literals: its tokens, strings as one marker.

    IPython lines (`%magic`, `!shell`) are kept whole but for what follows a '#'."""
    python, magics = [], []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            magics.append(stripped.split(" #")[0].rstrip())
            python.append("")
        else:
            python.append(line)
    shape = [f"MAGIC {m}" for m in magics]
    tokens = tokenize.generate_tokens(io.StringIO("\n".join(python) + "\n").readline)
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.STRING or tok.type in {getattr(tokenize, n, -1) for n in
                                                         ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")}:
            if shape and shape[-1] == "STRING":
                continue                      # adjacent literals ("a" "b") count as one
            shape.append("STRING")
            continue
        shape.append(tokenize.tok_name[tok.type] if tok.type in (tokenize.NEWLINE, tokenize.INDENT,
                                                                   tokenize.DEDENT) else tok.string)
    return shape


def _meta(cell) -> tuple:
    md = cell.get("metadata", {})
    return (cell.cell_type, cell.get("id"), tuple(sorted(md.get("tags", []))),
            repr(md.get("labqueue", {}).get("exercise")))


def test_french_notebooks_exist_for_their_english_twins() -> None:
    orphans = [p.name for p in TWINS if not (NOTEBOOKS / p.name).exists()]
    assert not orphans, f"French notebooks without an English twin in notebooks/: {orphans}"


@pytest.mark.parametrize("french", TWINS, ids=[p.stem for p in TWINS])
def test_a_french_notebook_has_the_code_of_its_english_twin(french: Path) -> None:
    en = nbformat.read(NOTEBOOKS / french.name, as_version=4)
    fr = nbformat.read(french, as_version=4)
    assert [_meta(c) for c in fr.cells] == [_meta(c) for c in en.cells], (
        f"{french.name}: the French cells (type, id, tags, exercise) differ from the English ones")
    for index, (c_en, c_fr) in enumerate(zip(en.cells, fr.cells)):
        if c_en.cell_type != "code":
            continue
        assert code_shape(c_fr.source) == code_shape(c_en.source), (
            f"{french.name}, cell {index} (id {c_en.get('id')}): the code differs from the English twin "
            f"beyond comments and strings:\n--- en\n{c_en.source}\n--- fr\n{c_fr.source}")


def test_code_shape_sets_aside_comments_and_strings_only() -> None:
    base = 'x = f(1, "a")  # one\nprint(f"{x} done")\n%matplotlib inline\n'
    same = 'x = f(1, "un")  # un\nprint(f"{x} fini")\n%matplotlib inline  # graphiques\n'
    assert code_shape(base) == code_shape(same)
    assert code_shape(base) != code_shape(base.replace("f(1", "f(2"))       # a number is code
    assert code_shape(base) != code_shape(base.replace("x =", "y ="))       # a name is code
    assert code_shape(base) != code_shape(base.replace("%matplotlib inline", "%matplotlib widget"))


def test_every_english_notebook_and_solution_has_a_french_twin() -> None:
    """The French lab is whole: each notebook of notebooks/ has its twin in notebooks/fr/, and each solution of
    notebooks/solutions/ its twin in notebooks/fr/solutions/ (a new English notebook or solution needs its French)."""
    missing = [f"notebooks/fr/{p.name}" for p in sorted(NOTEBOOKS.glob("*.ipynb")) if not (FRENCH / p.name).is_file()]
    solutions = NOTEBOOKS / "solutions"
    missing += [f"notebooks/fr/solutions/{p.relative_to(solutions).as_posix()}" for p in sorted(solutions.glob("*/*.py"))
                if not (FRENCH / "solutions" / p.relative_to(solutions)).is_file()]
    orphans = [p.relative_to(NOTEBOOKS).as_posix() for p in sorted((FRENCH / "solutions").glob("*/*.py"))
               if not (solutions / p.relative_to(FRENCH / "solutions")).is_file()]
    assert not missing, f"English notebooks or solutions without their French twin: {missing}"
    assert not orphans, f"French solutions without an English twin: {orphans}"


def _undressed_numbers(source: str) -> list[str]:
    """The f-string fields a cell prints with decimals or thousands (`{x:.1f}`, `{x:g}`, `{x:,.0f}`) whose value
    is not wrapped in i18n's Number(): Python writes them 2.5 and 26,332 whatever the lab's language."""
    import ast
    import re

    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    found = []
    for call in ast.walk(ast.parse(python)):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"):
            continue
        for field in (n for arg in call.args for n in ast.walk(arg) if isinstance(n, ast.FormattedValue)):
            spec = "".join(v.value for v in getattr(field.format_spec, "values", []) if isinstance(v, ast.Constant))
            wrapped = isinstance(field.value, ast.Call) and getattr(field.value.func, "id", "") == "Number"
            if re.search(r"\.[1-9]|,|g$", spec) and not wrapped:
                found.append(f"{{{ast.unparse(field.value)}:{spec}}}")
    return found


@pytest.mark.parametrize("french", TWINS, ids=[p.stem for p in TWINS])
def test_printed_decimals_follow_the_lab_language(french: Path) -> None:
    """A number a cell prints with decimals or thousands goes through Number(), so the French notebook shows
    2,5 s and 26 332 (its code is its English twin's: the language is chosen in the package, not in the cell)."""
    undressed = [f"cell {i}: {field}" for i, cell in enumerate(nbformat.read(french, as_version=4).cells)
                 if cell.cell_type == "code" for field in _undressed_numbers(cell.source)]
    assert not undressed, f"{french.name} prints numbers the English way: {undressed}"


def test_undressed_numbers_finds_printed_decimals_only() -> None:
    assert _undressed_numbers('print(f"{n} jobs in {t:.1f} s, {r:,.0f}/s, {k:g} ms, {d:.0f}")') == [
        "{t:.1f}", "{r:,.0f}", "{k:g}"]
    assert _undressed_numbers('%time x = 1\nprint(f"{Number(t):.1f} s")\ny = f"{t:.3f}"') == []
