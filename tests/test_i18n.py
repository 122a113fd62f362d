"""The lab's French catalogue (labqueue.lab.i18n): complete, consistent, and only in labqueue.lab."""

from __future__ import annotations

import ast
import re
import string
import sys
import warnings
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from labqueue.lab import i18n

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "labqueue" / "lab"
BENCH = ROOT / "labqueue" / "bench"          # its widgets and charts are shown in notebook 11
TRANSLATED = (LAB, BENCH)
CORE = ROOT / "labqueue"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
MARKERS = {"_", "N_", "ngettext"}


def _extracted() -> dict[str, list[str]]:
    """Every marked sentence of labqueue.lab (Babel's extractor) -> where it is used."""
    found: dict[str, list[str]] = {}
    for folder in TRANSLATED:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(folder), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=()):
            ids = message if isinstance(message, tuple) else (message,)
            for mid in ids:
                if mid:
                    found.setdefault(mid, []).append(f"{folder.name}/{filename}:{lineno}")
    return found


def _catalogue(lang: str) -> dict[str, tuple[object, Path]]:
    messages: dict[str, tuple[object, Path]] = {}
    for path in i18n.catalogue_files(lang):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if not message.id:
                    continue
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                messages[key] = (message, path)
                if isinstance(message.id, tuple):       # ngettext: the plural is extracted too
                    messages[message.id[1]] = (message, path)
    return messages


def empty_translations(paths) -> list[str]:
    """Every entry of these PO files whose msgstr, or one of whose plural forms (msgstr[i]), is empty:
    gettext would serve it as an empty label. Names the file, the entry and the empty form."""
    empty = []
    for path in paths:
        with Path(path).open("rb") as handle:
            for message in read_po(handle, locale="fr"):
                if not message.id:                                  # the header
                    continue
                if isinstance(message.id, tuple):
                    forms = message.string if isinstance(message.string, tuple) else (message.string,)
                    holes = [f"msgstr[{i}]" for i, form in enumerate(forms) if not form] or \
                        ([] if forms else ["msgstr[0]"])
                else:
                    holes = [] if message.string else ["msgstr"]
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                empty += [f"{Path(path).name}: {key!r} has an empty {hole}" for hole in holes]
    return empty


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_every_marked_sentence_has_a_french_translation() -> None:
    catalogue = _catalogue("fr")
    missing = [f"{mid!r} ({where[0]})" for mid, where in sorted(_extracted().items())
               if mid not in catalogue or not catalogue[mid][0].string or catalogue[mid][0].fuzzy]
    assert not missing, (f"{len(missing)} sentence(s) of labqueue.lab have no French translation in "
                         f"labqueue/lab/locale/fr/LC_MESSAGES/*.po:\n  " + "\n  ".join(missing[:40]))


def test_no_translation_and_no_plural_form_is_empty() -> None:
    empty = empty_translations(i18n.catalogue_files("fr"))
    assert not empty, "empty translations (the student would read an empty label):\n  " + "\n  ".join(empty)


def test_the_emptiness_check_names_an_emptied_plural_form_and_msgstr(tmp_path) -> None:
    """The check above can fail: a copy of panels.po with one plural form emptied, one msgstr emptied."""
    source = LAB / "locale" / "fr" / "LC_MESSAGES" / "panels.po"
    text = source.read_text(encoding="utf-8")
    plural, single = 'msgstr[1] "{n} jobs en échec remis en attente"', 'msgstr "la file reprend"'
    assert plural in text and single in text
    broken = tmp_path / "panels.po"
    broken.write_text(text.replace(plural, 'msgstr[1] ""').replace(single, 'msgstr ""'), encoding="utf-8")
    assert empty_translations([source]) == []
    assert empty_translations([broken]) == [
        "panels.po: 'queue resumed' has an empty msgstr",
        "panels.po: '{n} failed job moved back to waiting' has an empty msgstr[1]"]


FRENCH_PO_HEADER = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
                    '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n')


@pytest.fixture
def french_test_catalogue(tmp_path, monkeypatch):
    """A French catalogue of our own in place of the lab's (write its PO text to the returned path)."""
    before = i18n._chosen
    po = tmp_path / "fr" / "LC_MESSAGES" / "test.po"
    po.parent.mkdir(parents=True)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n._translations.cache_clear()
    yield po
    i18n._chosen = before
    i18n._translations.cache_clear()


def test_an_empty_plural_form_falls_back_to_english_at_run_time(french_test_catalogue) -> None:
    french_test_catalogue.write_text(
        FRENCH_PO_HEADER +
        'msgid "{n} job"\nmsgid_plural "{n} jobs"\nmsgstr[0] "{n} job"\nmsgstr[1] ""\n\n'
        'msgid "{n} crash"\nmsgid_plural "{n} crashes"\nmsgstr[0] ""\nmsgstr[1] "{n} crashs"\n\n'
        'msgid "{n} lease"\nmsgid_plural "{n} leases"\nmsgstr[0] "{n} bail"\nmsgstr[1] "{n} baux"\n\n'
        'msgid "queue resumed"\nmsgstr ""\n', encoding="utf-8")
    i18n.use_language("fr")
    # an entry with an empty form is left out whole: English for every count, never an empty label
    assert [i18n.ngettext("{n} job", "{n} jobs", n) for n in (0, 1, 2)] == ["{n} jobs", "{n} job", "{n} jobs"]
    assert [i18n.ngettext("{n} crash", "{n} crashes", n) for n in (1, 2)] == ["{n} crash", "{n} crashes"]
    assert [i18n.ngettext("{n} lease", "{n} leases", n) for n in (0, 1, 2)] == ["{n} bail", "{n} bail", "{n} baux"]
    assert i18n._("queue resumed") == "queue resumed"


def test_without_babel_french_warns_once_naming_the_fix_and_shows_english(french_test_catalogue,
                                                                          monkeypatch) -> None:
    french_test_catalogue.write_text(FRENCH_PO_HEADER + 'msgid "running"\nmsgstr "en cours"\n', encoding="utf-8")
    for name in [m for m in sys.modules if m == "babel" or m.startswith("babel.")] + \
            ["babel", "babel.messages", "babel.messages.catalog", "babel.messages.mofile", "babel.messages.pofile"]:
        monkeypatch.setitem(sys.modules, name, None)        # `import babel...` now raises ImportError
    with pytest.warns(i18n.BabelMissingWarning) as caught:
        assert i18n.use_language("fr") == "fr"              # the warning comes in the cell that chose French
    assert len(caught) == 1
    said = str(caught[0].message)
    assert "Babel" in said and "pip install -r requirements.txt" in said and "restart the kernel" in said
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # once: later labels neither warn nor raise
        assert i18n._("running") == "running"
        assert i18n.ngettext("{n} job", "{n} jobs", 2) == "{n} jobs"
        assert i18n.translate("running") == "running"
    monkeypatch.undo()                                      # Babel back: French again once the cache is cleared
    monkeypatch.setattr(i18n, "LOCALE_DIR", french_test_catalogue.parent.parent.parent)
    i18n._translations.cache_clear()
    assert i18n._("running") == "en cours"


DECIMAL_POINT = re.compile(r"\d\.\d")


def _prose(text: str) -> str:
    """A French sentence without its {fields}, `code` and calls such as dequeue(timeout=0.3)."""
    text = re.sub(r"\{[^{}]*\}", "", text)
    text = re.sub(r"`[^`]*`", "", text)
    return re.sub(r"[\w.]+\([^()]*\)", "", text)


def test_french_sentences_write_decimals_with_a_comma() -> None:
    """French writes 2,75 s: a decimal point in a French sentence's own words (not in code it quotes)."""
    dotted = []
    for mid, (message, path) in _catalogue("fr").items():
        for target in message.string if isinstance(message.string, tuple) else (message.string,):
            if target and DECIMAL_POINT.search(_prose(target)):
                dotted.append(f"{path.name}: {target!r}")
    assert not dotted, "French sentences with a decimal point (write 2,75):\n  " + "\n  ".join(sorted(set(dotted)))
    assert DECIMAL_POINT.search(_prose("à base + 2.75 s, après dequeue(timeout=0.3)"))      # the test can fail
    assert not DECIMAL_POINT.search(_prose("à base + 2,75 s, après dequeue(timeout=0.3) {x:.1f}"))


def test_numbers_are_written_the_way_the_language_in_use_writes_them(restore_language, monkeypatch) -> None:
    monkeypatch.delenv(i18n.ENV_LANG, raising=False)
    i18n._chosen = None
    done = "done in {seconds:.1f} s"
    assert i18n._(done).format(seconds=i18n.Number(2.25)) == "done in 2.2 s"
    assert i18n.number(26332.5, ",.1f") == "26,332.5" and f"{i18n.Number(0.5)}" == "0.5"
    i18n.use_language("fr")
    assert i18n._(done).format(seconds=i18n.Number(2.25)) == "terminée en 2,2 s"
    assert i18n.number(26332.5, ",.1f") == "26\u202f332,5" and f"{i18n.Number(0.5)}" == "0,5"
    assert "{b:g} s".format(b=i18n.Number(30.0)) == "30 s" and i18n.number(7) == "7"


def test_the_catalogue_holds_no_sentence_the_lab_no_longer_uses() -> None:
    used = _extracted()
    stale = [f"{mid!r} ({path.name})" for mid, (_m, path) in sorted(_catalogue("fr").items()) if mid not in used]
    assert not stale, "French catalogue entries no code marks any more:\n  " + "\n  ".join(stale[:40])


def test_a_translation_has_the_same_fields_as_its_source() -> None:
    wrong = []
    for mid, (message, path) in _catalogue("fr").items():
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        for target in targets:
            if target and _fields(target) - set().union(*(_fields(s) for s in sources)):
                wrong.append(f"{path.name}: {mid!r} -> {target!r}")
        if not isinstance(message.id, tuple) and message.string and _fields(message.string) != _fields(mid):
            wrong.append(f"{path.name}: {mid!r} -> {message.string!r}")
    assert not wrong, "translations whose {fields} differ from the English:\n  " + "\n  ".join(wrong)


def test_a_sentence_is_written_once_across_the_po_files() -> None:
    seen: dict[str, Path] = {}
    twice = []
    for path in i18n.catalogue_files("fr"):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="fr"):
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                if key and key in seen:
                    twice.append(f"{key!r} in {seen[key].name} and {path.name}")
                seen.setdefault(key, path)
    assert not twice, "one sentence, two PO files:\n  " + "\n  ".join(twice)


def test_marked_sentences_are_literals_the_extractor_can_find() -> None:
    bad = []
    for path in sorted(p for folder in TRANSLATED for p in folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
                args = node.args[:2] if node.func.id == "ngettext" else node.args[:1]
                if not args or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, ("_()/N_()/ngettext() must get string literals (use named {fields} and .format(), "
                     "not f-strings):\n  " + "\n  ".join(bad))


def test_the_core_never_translates() -> None:
    importers = [p.name for p in CORE.glob("*.py") if "i18n" in p.read_text(encoding="utf-8")]
    assert not importers, f"labqueue core modules must stay English, these mention i18n: {importers}"


@pytest.fixture
def restore_language():
    before = i18n._chosen
    yield
    i18n._chosen = before


def test_use_language_switches_and_refuses_an_unknown_language(restore_language, tmp_path, monkeypatch) -> None:
    po = tmp_path / "fr" / "LC_MESSAGES" / "test.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
                  '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
                  'msgid "{n} jobs lost"\nmsgstr "{n} jobs perdus"\n\n'
                  'msgid "{n} job"\nmsgid_plural "{n} jobs"\nmsgstr[0] "{n} job"\nmsgstr[1] "{n} jobs"\n',
                  encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n._translations.cache_clear()
    try:
        monkeypatch.delenv(i18n.ENV_LANG, raising=False)
        i18n._chosen = None
        assert i18n.language() == "en"
        assert i18n._("{n} jobs lost").format(n=3) == "3 jobs lost"
        assert i18n.use_language("FR") == "fr"
        assert i18n._("{n} jobs lost").format(n=3) == "3 jobs perdus"
        assert i18n._("not in the catalogue") == "not in the catalogue"
        assert i18n.ngettext("{n} job", "{n} jobs", 1) == "{n} job"
        assert i18n.ngettext("{n} job", "{n} jobs", 0) == "{n} job"     # French: 0 is singular
        assert i18n.ngettext("{n} job", "{n} jobs", 2) == "{n} jobs"
        with pytest.raises(ValueError, match="'klingon'"):
            i18n.use_language("klingon")
        assert i18n.language() == "fr"                                   # a refused call changes nothing
        i18n._chosen = None
        monkeypatch.setenv(i18n.ENV_LANG, "fr_FR")
        assert i18n.language() == "fr"
        monkeypatch.setenv(i18n.ENV_LANG, "de")
        with pytest.raises(ValueError, match=r"\$LABQUEUE_LANG.*'de'"):
            i18n.language()
    finally:
        i18n._translations.cache_clear()


def test_no_function_that_translates_also_uses_underscore_as_a_variable() -> None:
    """`for _ in ...` or `_, x = ...` makes `_` local to the whole function: `_("...")` there would fail."""
    bad = []
    for path in sorted(p for folder in TRANSLATED for p in folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            stores = calls = False
            for node in ast.walk(func):
                if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                    stores = True
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
                    calls = True
            if stores and calls:
                bad.append(f"{path.relative_to(ROOT)}:{func.lineno}")
    assert not bad, "functions that call _() and also assign to _ (rename the throwaway variable):\n  " + \
        "\n  ".join(bad)
