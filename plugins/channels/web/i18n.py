"""The site's languages: zh-CN by default, English on request (Babel ``.po`` catalogs).

Catalogs live in ``translations/<locale>/LC_MESSAGES/messages.po`` and are compiled in memory
once per process, so a source checkout needs no build step. Message ids are English.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE = Path(__file__).parent / "translations"
DEFAULT = "zh-CN"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}  # html lang → catalog locale
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}


@lru_cache(maxsize=None)
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (an unknown one gets the default's)."""
    locale = LANGUAGES.get(language, LANGUAGES[DEFAULT])
    path = HERE / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        po = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick(value: str | None) -> str:
    """A supported language for a cookie value, else the default."""
    return value if value in LANGUAGES else DEFAULT


class Translator:
    """``_("Hello %(name)s", name=…)`` in one language.

    Parameters:
        language: ``zh-CN`` or ``en``.
    """

    def __init__(self, language: str):
        self.language = pick(language)
        self._catalog = catalog(self.language)

    def __call__(self, message: str, **values) -> str:
        text = self._catalog.gettext(message)
        return text % values if values else text
