"""Every message the site can show has a zh-CN translation, and every refusal the booking
engine can give has a sentence in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from guahao.core.models.fees import FEE_ORDER_STATUSES
from guahao.plugins.channels.web import feedback, messages, site
from guahao.plugins.channels.web.booking import NOTICES
from guahao.plugins.channels.web.i18n import catalog

TEMPLATES = Path(site.__file__).parent / "templates"
LITERAL = re.compile(r"""_\(\s*"([^"]+)"\s*[,)]""")


def used_messages() -> set[str]:
    found = set()
    for path in TEMPLATES.rglob("*.html"):
        found.update(LITERAL.findall(path.read_text()))
    found.update(messages.SENTENCES.values(), NOTICES.values(), site.HALF_DAYS.values(), site.WEEKDAYS)
    found.update(f"status:{s}" for s in ("pending_payment", "confirmed", "offered", "checked_in", "no_show",
                                           "cancelled", "expired"))
    found.update(f"scope:{s}" for s in ("upcoming", "past", "cancelled"))
    found.update(f"fee:{s}" for s in FEE_ORDER_STATUSES)
    found.update(feedback.CATEGORY_NAMES.values(), feedback.COMPLAINT_STATUS.values())
    found.update((messages.GENERAL, messages.CITY_RULE))
    found.update(site.REASONS.values(), site.REGISTER_REASONS.values())
    return found


def test_every_message_is_translated_to_chinese():
    zh = catalog("zh-CN")
    missing = sorted(m for m in used_messages() if zh.gettext(m) == m)
    assert len(used_messages()) > 100 and not missing


def test_templates_have_no_untranslated_text_nodes():
    text_node = re.compile(r">\s*([A-Za-z][A-Za-z ,.'!?]{3,})\s*<")
    for path in TEMPLATES.rglob("*.html"):
        assert not text_node.findall(path.read_text()), path.name


ENGINE_ERRORS = [Path(messages.__file__).parents[3] / "core" / "booking" / "errors.py",
                 Path(messages.__file__).parents[3] / "core" / "errors.py"]
RAISED = re.compile(r'(?:Conflict|Forbidden|ValidationFailed|NotFound|DomainError)\(\s*"([a-z_]+)"|code: str = "([a-z_]+)"')
API_ONLY = {"unauthorized"}  # bearer tokens: the site uses its own session


def test_every_engine_refusal_has_a_sentence_in_both_languages():
    codes = {a or b for path in ENGINE_ERRORS for a, b in RAISED.findall(path.read_text())} - API_ONLY
    assert {"slot_full", "hold_expired", "amount_mismatch", "not_found", "invalid_scope"} <= codes
    zh, en = catalog("zh-CN"), catalog("en")
    for code in sorted(codes):
        sentence = messages.SENTENCES.get(code)
        assert sentence, f"no sentence for {code}"
        assert zh.gettext(sentence) != sentence, f"{code} has no Chinese sentence"
        assert en.gettext(sentence) == sentence or not re.search(r"[\u4e00-\u9fff]", en.gettext(sentence))
