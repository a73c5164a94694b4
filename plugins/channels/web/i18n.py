"""The site's languages: zh-CN by default, English on request (Babel ``.po`` catalogs).

Catalogs live in ``translations/<locale>/LC_MESSAGES/messages.po`` and are compiled in memory
once per process, so a source checkout needs no build step. Message ids are English.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from guahao.core.booking import labels
from guahao.core.web.i18n import DEFAULT, LANGUAGE_NAMES, LANGUAGES, compiled, pick

HERE = Path(__file__).parent / "translations"
__all__ = ["DEFAULT", "LANGUAGES", "LANGUAGE_NAMES", "Translator", "catalog", "pick"]


def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (an unknown one gets the default's)."""
    return compiled(HERE, LANGUAGES.get(language, LANGUAGES[DEFAULT]))


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

    # The booking domain's codes as the patient reads them in this language (``core.booking.labels``):
    # ``{{ _.status(booking.status) }}``, ``{{ _.reason(booking.cancel_reason) }}``.
    def status(self, code: str) -> str:
        return labels.status_label(code, self.language, reader="patient")

    def reason(self, code: str) -> str:
        return labels.reason_label(code, self.language, reader="patient")

    def waitlist(self, code: str) -> str:
        return labels.waitlist_label(code, self.language, reader="patient")
