"""Babel ``.po`` catalogs compiled in memory, shared by the patient site and the console.

Each web front end keeps its catalogs in ``<dir>/<locale>/LC_MESSAGES/messages.po`` with
English message ids; they are compiled once per process, so a source checkout needs no
build step.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DEFAULT = "zh-CN"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}  # html lang → catalog locale
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}


@lru_cache(maxsize=None)
def compiled(directory: Path, locale: str) -> gettext.NullTranslations:
    """The catalog ``directory/locale/LC_MESSAGES/messages.po``, compiled."""
    path = directory / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        po = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick(value: str | None) -> str:
    """A supported language for a cookie or form value, else the default."""
    return value if value in LANGUAGES else DEFAULT


class CatalogTranslator:
    """``_("Hello %(name)s", name=…)`` from one directory of catalogs, in one language.

    Parameters:
        directory: the folder holding ``<locale>/LC_MESSAGES/messages.po``.
        language: ``zh-CN`` or ``en`` (anything else: the default).
    """

    def __init__(self, directory: Path, language: str | None):
        self.language = pick(language)
        self._catalog = compiled(directory, LANGUAGES[self.language])

    def gettext(self, message: str) -> str:
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)

    def __call__(self, message: str, **values) -> str:
        text = self._catalog.gettext(message)
        return text % values if values else text
