"""Checking a city's settings for a plugin before they are stored.

The console, the CLI and the services that configure plugins all pass through :func:`check`:
the plugin must be installed and working, and its settings and credentials must fit its
declared model (``core.plugins.settings.validate``). A refusal stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guahao.core.errors import DomainError

from .settings import validate


class PluginBroken(DomainError):
    """The plugin is installed but was left out at start; it cannot be enabled."""

    status = 409

    def __init__(self, name: str, reason: str):
        super().__init__("plugin_broken", f"插件 {name} 未能加载，暂不能启用：{reason}", details={"reason": reason})


def installed_meta(host, plugin: str):
    """The declaration of an installed, working plugin (``None`` for a plugin registered at run
    time without one); raises :class:`PluginBroken` or ``DomainError`` (``plugin_not_found``)."""
    broken = {b.name: b for b in host.broken()}
    if plugin in broken:
        raise PluginBroken(plugin, broken[plugin].reason)
    if plugin not in host.names():
        raise DomainError("plugin_not_found", f"没有安装插件 {plugin}（已安装：{', '.join(host.names())}）", status=404)
    return host.meta(plugin)


def check(
    host,
    plugin: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    *,
    stored_secrets: Mapping[str, str] | None = None,
    enabled: bool = True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(settings, secrets)`` to store for ``plugin``, checked against its declaration.

    ``host`` is the runtime's :class:`~core.plugins.manager.PluginHost`. A plugin registered
    at run time without a declaration (tests) is stored as given. Raises ``DomainError``
    (``plugin_not_found``), :class:`PluginBroken` or ``SettingsInvalid``.
    """
    meta = installed_meta(host, plugin)
    if meta is None:
        return dict(settings), {k: v for k, v in (secrets or {}).items() if v}
    return validate(plugin, meta.settings, settings, secrets, stored_secrets=stored_secrets, enabled=enabled)
