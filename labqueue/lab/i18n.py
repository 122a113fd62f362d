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

``tests/test_i18n.py`` extracts every marked sentence with Babel and fails when one has no French
translation, or when a translation's ``{fields}`` differ from its English source.
"""

from __future__ import annotations

import gettext
import io
import os
import threading
from functools import lru_cache
from pathlib import Path

__all__ = ["LANGUAGES", "N_", "_", "catalogue_files", "language", "ngettext", "translate", "use_language"]

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


def use_language(lang: str) -> str:
    """Make `lang` ('en' or 'fr') the language of everything labqueue.lab shows from now on."""
    global _chosen
    code = _checked(lang, "use_language()")
    with _lock:
        _chosen = code
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


@lru_cache(maxsize=None)
def _translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    merged = Catalog(locale=lang)
    for path in catalogue_files(lang):
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=lang)
        # the PO files' own plural rule (French: 2 forms, n > 1), not Babel's CLDR rule for the locale
        # (3 forms for French: ngettext(..., 2) found no msgstr[2] and fell back to English)
        merged.mime_headers = [("Plural-Forms", catalogue.plural_forms)]
        for message in catalogue:
            if message.id and message.string and not message.fuzzy:
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
