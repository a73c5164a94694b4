"""Finds plugins: the entry-point group ``guahao`` (built-in and third-party alike)."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

log = logging.getLogger("guahao.plugins")

GROUP = "guahao"

# Built-ins are plugins too; listed here as well so a source checkout without an installed
# distribution (no entry-point metadata) still finds them.
BUILTIN = {
    "pay_at_hospital": "plugins.payments.pay_at_hospital",
    "demo_his": "plugins.his.demo",
    "message_log": "plugins.channels.message_log",
    "sms_aliyun": "plugins.channels.sms_aliyun",
    "sms_tencent": "plugins.channels.sms_tencent",
    "email_smtp": "plugins.channels.email_smtp",
    "wechat_template": "plugins.channels.wechat_template",
    "web": "plugins.channels.web",
    "stripe": "plugins.payments.stripe",
}


def discover() -> dict[str, object]:
    """Return ``{plugin name: module}`` for every plugin that can be imported."""
    found: dict[str, str] = dict(BUILTIN)
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.value
    modules = {}
    for name, target in sorted(found.items()):
        try:
            modules[name] = importlib.import_module(target)
        except Exception:  # a broken third-party plugin must not take the platform down
            log.exception("cannot import plugin %s (%s)", name, target)
    return modules


def import_plugin_models() -> None:
    """Import every plugin so tables they declare join the metadata (for migrations)."""
    discover()
