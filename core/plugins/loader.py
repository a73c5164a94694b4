"""Finds plugins and checks each one on its own: the entry-point group ``guahao``.

Built-in and third-party plugins are found the same way. Every plugin is checked alone —
it imports, it declares a valid, compatible ``META``, its hook implementations all match a
hook specification — and one that fails any check is recorded as broken (with the reason)
and left out, so a broken third-party package never keeps the platform or any other plugin
from starting. Operators see the broken ones in the console and in ``guahao plugin list``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType

import pluggy

from guahao.core import hookspecs

from .meta import API_VERSION, PluginDeclarationError, PluginMeta, meta_of

log = logging.getLogger("guahao.plugins")

GROUP = "guahao"

# Built-ins are plugins too; listed here as well so a source checkout without an installed
# distribution (no entry-point metadata) still finds them.
BUILTIN = {
    "pay_at_hospital": "guahao.plugins.payments.pay_at_hospital",
    "demo_his": "guahao.plugins.his.demo",
    "message_log": "guahao.plugins.channels.message_log",
    "sms_aliyun": "guahao.plugins.channels.sms_aliyun",
    "sms_tencent": "guahao.plugins.channels.sms_tencent",
    "email_smtp": "guahao.plugins.channels.email_smtp",
    "wechat_template": "guahao.plugins.channels.wechat_template",
    "web": "guahao.plugins.channels.web",
    "stripe": "guahao.plugins.payments.stripe",
    "wechatpay": "guahao.plugins.payments.wechatpay",
    "alipay": "guahao.plugins.payments.alipay",
    "hl7v2": "guahao.plugins.his.hl7v2",
    "midtable": "guahao.plugins.his.midtable",
    "fhir": "guahao.plugins.his.fhir",
    "sms_inbound": "guahao.plugins.channels.sms_inbound",
    "ivr": "guahao.plugins.channels.ivr",
    "fhir_api": "guahao.plugins.channels.fhir_api",
    "carrier": "guahao.plugins.payments.carrier",
    "wechat_oa": "guahao.plugins.channels.wechat_oa",
}


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin that passed every check.

    Parameters:
        name: entry-point name (what a city enables).
        target: the module path it was loaded from.
        module: the imported module (registered with pluggy).
        meta: its checked declaration.
        builtin: shipped with the platform.
    """

    name: str
    target: str
    module: ModuleType
    meta: PluginMeta
    builtin: bool


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin left out at start: where it failed (``import``, ``declaration``, ``hooks``)
    and why, in the words of the error."""

    name: str
    target: str
    stage: str
    reason: str


@dataclass
class Discovery:
    """The outcome of looking for plugins: those that work and those left out."""

    plugins: dict[str, InstalledPlugin] = field(default_factory=dict)
    broken: dict[str, BrokenPlugin] = field(default_factory=dict)

    def modules(self) -> dict[str, ModuleType]:
        return {name: p.module for name, p in self.plugins.items()}

    def metas(self) -> dict[str, PluginMeta]:
        return {name: p.meta for name, p in self.plugins.items()}


def check_hooks(name: str, module: object) -> None:
    """Raise ``pluggy.PluginValidationError`` unless every ``guahao_*`` implementation of
    ``module`` matches a hook specification (name and arguments)."""
    scratch = pluggy.PluginManager("guahao")
    scratch.add_hookspecs(hookspecs)
    scratch.register(module, name=name)
    scratch.check_pending()


def _load(name: str, target: str, builtin: bool, api_version: str) -> InstalledPlugin | BrokenPlugin:
    try:
        module = importlib.import_module(target)
    except Exception as exc:  # a third party's import error must not stop the platform
        return BrokenPlugin(name, target, "import", f"{type(exc).__name__}: {exc}")
    try:
        meta = meta_of(module, name, api_version)
    except PluginDeclarationError as exc:
        return BrokenPlugin(name, target, "declaration", str(exc))
    try:
        check_hooks(name, module)
    except pluggy.PluginValidationError as exc:
        return BrokenPlugin(name, target, "hooks", str(exc))
    return InstalledPlugin(name, target, module, meta, builtin)


def entry_point_targets() -> dict[str, tuple[str, bool]]:
    """``{name: (module path, built-in)}`` of every plugin on offer."""
    found = {name: (target, True) for name, target in BUILTIN.items()}
    for ep in entry_points(group=GROUP):
        found[ep.name] = (ep.value, BUILTIN.get(ep.name) == ep.value)
    return found


_cached: Discovery | None = None


def discover(*, refresh: bool = False, api_version: str = API_VERSION) -> Discovery:
    """Every plugin on offer, checked one by one (cached for the process; ``refresh`` looks
    again). Broken ones are logged once, clearly, and listed in ``Discovery.broken``."""
    global _cached
    if _cached is not None and not refresh and api_version == API_VERSION:
        return _cached
    found = Discovery()
    for name, (target, builtin) in sorted(entry_point_targets().items()):
        outcome = _load(name, target, builtin, api_version)
        if isinstance(outcome, BrokenPlugin):
            log.error("plugin %s (%s) left out, %s check failed: %s", name, target, outcome.stage, outcome.reason)
            found.broken[name] = outcome
        else:
            found.plugins[name] = outcome
    if api_version == API_VERSION:
        _cached = found
    return found


def import_plugin_models() -> None:
    """Import every working plugin so tables they declare join the metadata (for migrations)."""
    discover()
