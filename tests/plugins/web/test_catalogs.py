"""Every message the site can show has a zh-CN translation."""

from __future__ import annotations

import re
from pathlib import Path

from plugins.channels.web import messages, site
from plugins.channels.web.booking import NOTICES
from plugins.channels.web.i18n import catalog

TEMPLATES = Path(site.__file__).parent / "templates"
LITERAL = re.compile(r"""_\(\s*"([^"]+)"\s*[,)]""")


def used_messages() -> set[str]:
    found = set()
    for path in TEMPLATES.glob("*.html"):
        found.update(LITERAL.findall(path.read_text()))
    found.update(messages.SENTENCES.values(), NOTICES.values(), site.HALF_DAYS.values(), site.WEEKDAYS)
    found.update(f"status:{s}" for s in ("pending_payment", "confirmed", "offered", "checked_in", "no_show",
                                           "cancelled", "expired"))
    found.update(f"scope:{s}" for s in ("upcoming", "past", "cancelled"))
    found.add(messages.GENERAL)
    return found


def test_every_message_is_translated_to_chinese():
    zh = catalog("zh-CN")
    missing = sorted(m for m in used_messages() if zh.gettext(m) == m)
    assert len(used_messages()) > 100 and not missing


def test_templates_have_no_untranslated_text_nodes():
    text_node = re.compile(r">\s*([A-Za-z][A-Za-z ,.'!?]{3,})\s*<")
    for path in TEMPLATES.glob("*.html"):
        assert not text_node.findall(path.read_text()), path.name
