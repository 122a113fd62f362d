"""The lab's words in the student's language: English (the source text) or French.

Every sentence `labqueue.lab` shows a student (panel labels, chart titles and axes, check messages and
tallies) goes through `_()`. English is the source; the French catalogue is standard gettext: the PO
files in ``labqueue/lab/locale/fr/LC_MESSAGES/`` (one per part of the lab, merged at load), read with
Babel and served by the standard library's ``gettext.GNUTranslations``. The labqueue core never
translates: its errors and logs stay English, whatever the language of the notebook.

Choosing the language:

- ``use_language("fr")`` in a notebook's first cell (every French notebook does it; the English ones
  say ``use_language("en")``); it holds for the whole kernel, threads included;
- else ``$LABQUEUE_LANG`` (``fr`` or ``en``);
- else English.

Writing translatable code:

- ``_("Waiting jobs")`` for a sentence; a sentence with values uses named fields filled after the
  lookup, ``_("{n} jobs lost").format(n=lost)``, never an f-string inside ``_()`` (it could not be found
  in the catalogue);
- ``ngettext("{n} job", "{n} jobs", n).format(n=n)`` when the words depend on a count;
- ``N_("waiting")`` marks a constant computed at import (a dict of labels, say) for the catalogue
  without translating it; translate it where it is shown with ``translate(LABELS["waiting"])`` (``_()``
  itself only takes literals, so that the extractor finds every sentence).

Numbers: French writes 1,5 s and 26 332 where English writes 1.5 s and 26,332. A float (or a big
count) shown inside a sentence is wrapped in ``Number(value)``: ``_("done in {seconds:.1f} s")
.format(seconds=Number(elapsed))`` prints ``done in 2.5 s`` / ``terminée en 2,5 s`` (the format spec
stays in the catalogue, the translator's to keep); ``number(value, ".2f")`` gives the text at once.
Values that echo the student's code (``{said}``, ``{got!r}``) stay as Python writes them.

``tests/test_i18n.py`` extracts every marked sentence with Babel and fails when one has no French
translation, when a translation or one of its plural forms is empty, or when a translation's
``{fields}`` differ from its English source. At run time an entry with an empty form is left out of
the catalogue whole, so the student reads the English sentence for every count, never an empty label.

French needs Babel (``requirements.txt``) to read the PO files. Without it the lab warns once
(``BabelMissingWarning``, naming the fix: ``pip install -r requirements.txt``, then restart the kernel)
and goes on in English: a missing translation library must not stop a lesson half-way, and a label
is often drawn from a widget callback or a worker thread, where an exception would be lost or kill
the thread.
"""

from __future__ import annotations

import gettext
import io
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path

__all__ = ["LANGUAGES", "BabelMissingWarning", "N_", "Number", "_", "catalogue_files", "language", "ngettext",
           "number", "translate", "use_language"]

LANGUAGES = ("en", "fr")
ENV_LANG = "LABQUEUE_LANG"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_lock = threading.Lock()
_chosen: str | None = None


def _checked(lang: object, where: str) -> str:
    code = str(lang).strip().lower().replace("_", "-").split("-")[0] if isinstance(lang, str) else ""
    if code not in LANGUAGES:
        raise ValueError(f"{where}: unknown language {lang!r}; the lab speaks {', '.join(LANGUAGES)}")
    return code


class BabelMissingWarning(UserWarning):
    """The French catalogue cannot be read because Babel is not installed: the lab goes on in English."""


def use_language(lang: str) -> str:
    """Make `lang` ('en' or 'fr') the language of everything labqueue.lab shows from now on.

    Choosing French without Babel installed warns here, in the notebook's first cell (once per kernel),
    rather than at the first label, which may be drawn in a thread where nobody sees it."""
    global _chosen
    code = _checked(lang, "use_language()")
    with _lock:
        _chosen = code
    if code != "en":
        _translations(code)
    return code


def language() -> str:
    """The language in use: use_language()'s choice, else $LABQUEUE_LANG, else 'en'."""
    if _chosen is not None:
        return _chosen
    env = os.environ.get(ENV_LANG, "").strip()
    return _checked(env, f"${ENV_LANG}") if env else "en"


def catalogue_files(lang: str) -> list[Path]:
    """The PO files of `lang`'s catalogue, in load order."""
    return sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po"))


BABEL_MISSING = ("labqueue.lab: the {lang!r} catalogue needs the Babel package to read its PO files, and "
                 "Babel is not installed ({error}). The lab goes on in English. To fix it, run "
                 "`pip install -r requirements.txt` (or `pip install babel`) in this environment, then restart "
                 "the kernel. / Le catalogue français a besoin du paquet Babel, qui n'est pas installé : le lab "
                 "continue en anglais. Lancez `pip install -r requirements.txt`, puis redémarrez le kernel.")


def _complete(message: object) -> bool:
    """An entry the catalogue can serve: translated, not fuzzy, and no plural form left empty. (Babel's
    write_mo, 2.19, puts the English msgid in an empty form, one form at a time: "1 job perdu" but "2 lost
    jobs"; leaving the entry out gives the English sentence for every count, whatever write_mo does.)"""
    forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    return bool(message.id) and bool(forms) and all(forms) and not message.fuzzy


@lru_cache(maxsize=None)
def _translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    try:
        from babel.messages.catalog import Catalog
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError as exc:          # cached: one warning per kernel, then English
        warnings.warn(BABEL_MISSING.format(lang=lang, error=exc), BabelMissingWarning, stacklevel=3)
        return gettext.NullTranslations()

    merged = Catalog(locale=lang)
    for path in catalogue_files(lang):
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=lang)
        # the PO files' own plural rule (French: 2 forms, n > 1), not Babel's CLDR rule for the locale
        # (3 forms for French: ngettext(..., 2) found no msgstr[2] and fell back to English)
        merged.mime_headers = [("Plural-Forms", catalogue.plural_forms)]
        for message in catalogue:
            if _complete(message):
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    """`message` in the language in use (itself when English, or when the catalogue lacks it)."""
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a sentence, in the language in use, for the count `n`."""
    return _translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks `message` for the catalogue without translating it (for constants built at import)."""
    return message


def translate(text: str) -> str:
    """A sentence marked with `N_()` where it was defined, in the language in use (for variables)."""
    return _translations(language()).gettext(text)


def number(value: object, spec: str = "") -> str:
    """`value` formatted with `spec` as the language in use writes numbers: 26,332.5 in English,
    26 332,5 in French (a narrow no-break space between thousands, a decimal comma)."""
    text = format(value, spec)
    if language() == "fr":
        return text.translate({ord(","): "\u202f", ord("."): ","})
    return text


class Number:
    """A number to put in a translated sentence: ``{seconds:.1f}`` formats it, then writes it the way the
    language in use does (``number()``), so the catalogue keeps the format spec."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        return number(self.value, spec)

    def __str__(self) -> str:
        return number(self.value)

    def __repr__(self) -> str:
        return f"Number({self.value!r})"
