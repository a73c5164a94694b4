"""Per-city plugin sets (pluggy).

One ``PluginManager`` per process holds every installed plugin. A city sees only the plugins
it enabled: :class:`CityPlugins` wraps hook callers restricted to that set, plus the adapters
those plugins provide and their settings. Sets are built once per city and configuration
version (never per request) and rebuilt when the version moves or the registry changes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pluggy

from guahao.core import hookspecs
from guahao.tenants.context import CityContext

from .interfaces import HisAdapter, NotificationSender, PaymentProvider
from .meta import PluginMeta
from .settings import effective

log = logging.getLogger("guahao.plugins")


async def await_me_maybe(value: Any) -> Any:
    """Hooks may answer with a value or an awaitable; give back the value either way."""
    if inspect.isawaitable(value):
        return await value
    return value


class GuahaoPluginManager(pluggy.PluginManager):
    """A pluggy manager that counts registry changes, so cached city sets notice them."""

    def __init__(self) -> None:
        super().__init__("guahao")
        self.generation = 0
        self.metas: dict[str, PluginMeta] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        result = super().register(plugin, name)
        self.generation += 1
        return result

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        result = super().unregister(plugin, name)
        self.generation += 1
        return result


def build_manager(plugins: dict[str, object] | None = None) -> GuahaoPluginManager:
    """A manager with the specs and ``plugins`` (default: every working discovered plugin).

    Discovered plugins were checked one by one (``core.plugins.loader``), so a broken one is
    already left out. An explicit ``plugins`` mapping (tests) is checked as a whole: it raises
    ``pluggy.PluginValidationError`` when an implementation matches no spec (a typo).
    """
    from .loader import discover

    pm = GuahaoPluginManager()
    pm.add_hookspecs(hookspecs)
    chosen: Mapping[str, object]
    if plugins is None:
        discovery = discover()
        pm.metas = discovery.metas()
        chosen = discovery.modules()
    else:
        chosen = plugins
    for name, module in chosen.items():
        pm.register(module, name=name)
    pm.check_pending()
    return pm


_process_manager: GuahaoPluginManager | None = None


def plugin_manager() -> GuahaoPluginManager:
    """The process-wide manager, built on first use."""
    global _process_manager
    if _process_manager is None:
        _process_manager = build_manager()
    return _process_manager


@dataclass(frozen=True)
class HookOutcome:
    """One plugin's answer to a robust call: its result, or the exception it raised."""

    plugin: str
    result: Any = None
    error: BaseException | None = None


async def call_robust(caller: pluggy.HookCaller, **kwargs: Any) -> list[HookOutcome]:
    """Call every implementation (pluggy order), awaiting awaitables; collect, log, never raise.

    For lifecycle hooks: one broken plugin must not keep the others from an event.
    """
    outcomes = []
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            value = impl.function(*[kwargs[a] for a in impl.argnames])
            outcomes.append(HookOutcome(impl.plugin_name, await await_me_maybe(value)))
        except Exception as exc:  # collected for the caller; one plugin must not stop the rest
            log.exception("plugin %s failed in %s", impl.plugin_name, caller.name)
            outcomes.append(HookOutcome(impl.plugin_name, error=exc))
    return outcomes


class CityHooks:
    """``pm.hook`` restricted to one city's plugins: ``hooks.guahao_booking_event(city=…, event=…)``."""

    def __init__(self, pm: pluggy.PluginManager, names: frozenset[str]):
        self._pm = pm
        self._names = names
        self._callers: dict[str, pluggy.HookCaller] = {}

    def __getattr__(self, name: str) -> pluggy.HookCaller:
        if name.startswith("_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            if not hasattr(self._pm.hook, name):
                raise AttributeError(f"no hook named {name!r}")
            # Everything registered now and not enabled is left out, including plugins
            # registered after this set was built.
            removed = {p for n, p in self._pm.list_name_plugin() if p is not None and n not in self._names}
            caller = self._pm.subset_hook_caller(name, remove_plugins=removed)
            self._callers[name] = caller
        return caller


class CityPlugins:
    """The plugins one city enabled, with what they provide and their configuration.

    Parameters:
        city: the city this set belongs to.
        pm: the process plugin manager.
        config: ``{plugin: {"settings": …, "secrets": …}}`` of the city's enabled plugins
            (plugins declared ``always_enabled`` belong to the set without an entry).
        hospitals: ``{plugin: {hospital id: {"settings": …, "secrets": …}}}``, the hospitals'
            own values, which override the city's for that hospital.
        version: the city's ``config_version`` the set was built from.
        generation: the manager's registry generation it was built from.

    Adapters (payment providers, HIS adapters, notification senders) are listed in plugin
    name order; ``owner(obj)`` names the plugin that provided one (its settings apply).
    """

    def __init__(self, city: CityContext, pm: GuahaoPluginManager, config: dict[str, dict], version: int,
                 generation: int, hospitals: dict[str, dict[int, dict]] | None = None):
        self.city = city
        self._hospitals = hospitals or {}
        self.version = version
        self.generation = generation
        registered = dict(pm.list_name_plugin())
        always = {n for n, m in pm.metas.items() if m.always_enabled}
        self.names: frozenset[str] = frozenset(n for n in registered if n in config or n in always)
        self._config = config
        self._metas = pm.metas
        self.hook = CityHooks(pm, self.names)
        self._owners: dict[int, str] = {}
        self._payment = self._collect(pm, "guahao_payment_providers", PaymentProvider)
        self._his = self._collect(pm, "guahao_his_adapters", HisAdapter)
        self._senders = self._collect(pm, "guahao_notification_senders", NotificationSender)
        self._handlers: dict[str, Any] | None = None

    def _collect(self, pm: pluggy.PluginManager, hook: str, kind: type) -> list:
        impls = sorted(getattr(pm.hook, hook).get_hookimpls(), key=lambda i: i.plugin_name)
        out = []
        for impl in impls:
            if impl.plugin_name not in self.names:
                continue
            try:
                provided = impl.function()
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook)
                continue
            for obj in _as_list(provided):
                if not isinstance(obj, kind):
                    log.error("plugin %s returned %r from %s, not a %s", impl.plugin_name, obj, hook, kind.__name__)
                    continue
                self._owners[id(obj)] = impl.plugin_name
                out.append(obj)
        return out

    # --- adapters ---------------------------------------------------------------------------

    def payment_providers(self) -> list[PaymentProvider]:
        return list(self._payment)

    def payment_provider(self, name: str) -> PaymentProvider | None:
        return next((p for p in self._payment if p.name == name), None)

    def hospital_payment_provider(self, hospital_id: int | None) -> str:
        """The online payment provider a hospital takes its fees with: the first whose plugin
        the hospital gave settings of its own (its own merchant account); ``""`` when it gave
        none (the city's first online provider takes them)."""
        for provider in self._payment:
            if provider.online and self._hospital(self.owner(provider), hospital_id):
                return provider.name
        return ""

    def his_adapters(self) -> list[HisAdapter]:
        return list(self._his)

    def his_adapter(self, name: str) -> HisAdapter | None:
        return next((a for a in self._his if a.name == name), None)

    def hospital_his_adapter(self, wanted: str) -> HisAdapter | None:
        """The HIS adapter of a hospital whose ``his_adapter`` is ``wanted``: that one when
        enabled in the city (``None`` when it is not), else, with none named, the city's first
        HIS plugin."""
        if wanted:
            return self.his_adapter(wanted)
        return self._his[0] if self._his else None

    def notification_senders(self, channel: str | None = None) -> list[NotificationSender]:
        return [s for s in self._senders if channel is None or channel in s.channels]

    def owner(self, obj: object) -> str:
        """The plugin that provided ``obj`` (a provider, adapter or sender of this set)."""
        return self._owners[id(obj)]

    # --- configuration ----------------------------------------------------------------------

    def _hospital(self, plugin_name: str, hospital_id: int | None) -> dict:
        if hospital_id is None:
            return {}
        return self._hospitals.get(plugin_name, {}).get(hospital_id, {})

    def settings(self, plugin_name: str, hospital_id: int | None = None) -> dict:
        """A plugin's settings: its declared defaults, overlaid with what the city stored, then
        with what ``hospital_id``'s hospital stored for itself (a copy)."""
        meta = self._metas.get(plugin_name)
        stored = dict(self._config.get(plugin_name, {}).get("settings") or {})
        values = effective(meta.settings if meta else None, stored)
        own = self._hospital(plugin_name, hospital_id).get("settings") or {}
        values.update({k: v for k, v in own.items() if v is not None})
        return values

    def secrets(self, plugin_name: str, hospital_id: int | None = None) -> dict:
        """A plugin's decrypted secrets: the city's, overridden by the hospital's own (a copy)."""
        values = dict(self._config.get(plugin_name, {}).get("secrets") or {})
        values.update(self._hospital(plugin_name, hospital_id).get("secrets") or {})
        return values

    def config_of(self, obj: object, hospital_id: int | None = None) -> tuple[dict, dict]:
        """``(settings, secrets)`` of the plugin that provided ``obj``, as they apply to the
        hospital ``hospital_id`` (the city's alone when ``None``)."""
        name = self.owner(obj)
        return self.settings(name, hospital_id), self.secrets(name, hospital_id)

    # --- outbox handlers --------------------------------------------------------------------

    def outbox_handlers(self) -> dict[str, Any]:
        """``{topic: handler}`` from the city's plugins (first plugin by name wins a topic)."""
        if self._handlers is None:
            merged: dict[str, Any] = {}
            for mapping in reversed(self.hook.guahao_outbox_handlers()):
                for topic, handler in (mapping or {}).items():
                    merged.setdefault(topic, handler)
            self._handlers = merged
        return self._handlers


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


class PluginHost:
    """Hands out each city's plugin set, cached per (city, config version, registry).

    Parameters:
        rt: the runtime (its database holds which plugins a city enabled).
        pm: the plugin manager; default the process-wide one.
    """

    def __init__(self, rt, pm: GuahaoPluginManager | None = None):
        self.rt = rt
        self._pm = pm
        self._cache: dict[int, CityPlugins] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    @property
    def pm(self) -> GuahaoPluginManager:
        if self._pm is None:
            self._pm = plugin_manager()
        return self._pm

    def _fresh(self, hit: CityPlugins | None, city: CityContext) -> CityPlugins | None:
        """``hit`` when it is still current for ``city``, else ``None``."""
        # A context read before the latest change (resolver cache) must not roll a set back.
        if hit is not None and hit.version >= city.config_version and hit.generation == self.pm.generation:
            return hit
        return None

    async def for_city(self, city: CityContext) -> CityPlugins:
        """The plugin set of ``city``; built from the database only when stale."""
        current = self._fresh(self._cache.get(city.id), city)
        if current is not None:
            return current
        lock = self._locks.setdefault(city.id, asyncio.Lock())
        async with lock:
            current = self._fresh(self._cache.get(city.id), city)
            if current is not None:
                return current
            from guahao.tenants.service import enabled_plugins

            from .hospital import hospital_configs

            generation = self.pm.generation
            config = await enabled_plugins(self.rt.db, city)
            hospitals = await hospital_configs(self.rt.db, city)
            built = CityPlugins(city, self.pm, config, city.config_version, generation, hospitals)
            self._cache[city.id] = built
            log.debug("plugin set of city %s (v%s): %s", city.slug, city.config_version, sorted(built.names))
            return built

    def invalidate(self, city_id: int | None = None) -> None:
        """Forget a city's set (or every set); the next ``for_city`` rebuilds it."""
        if city_id is None:
            self._cache.clear()
        else:
            self._cache.pop(city_id, None)

    def names(self) -> list[str]:
        """Every installed plugin (what a city could enable)."""
        return sorted(n for n, p in self.pm.list_name_plugin() if p is not None)

    def meta(self, name: str) -> PluginMeta | None:
        """The declaration of an installed plugin (``None`` for an undeclared test plugin)."""
        return self.pm.metas.get(name)

    def broken(self) -> list:
        """Plugins left out at start (``core.plugins.loader.BrokenPlugin``), by name."""
        from .loader import discover

        return [b for _, b in sorted(discover().broken.items())]

    def register(self, plugin: object, name: str, meta: PluginMeta | None = None) -> None:
        """Add a plugin at run time (tests); fails fast on a hook implementation without spec.

        ``meta`` (default: the plugin's own ``META``) gives its settings defaults."""
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            self.pm.unregister(name=name)
            raise
        declared = meta or getattr(plugin, "META", None)
        if isinstance(declared, PluginMeta):
            self.pm.metas[name] = declared

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.pm.metas.pop(name, None)


async def configure(
    rt,
    city: CityContext,
    plugin: str,
    *,
    enabled: bool = True,
    settings: dict | None = None,
    secrets: dict | None = None,
) -> CityPlugins:
    """Enable/disable/configure a plugin for a city, then tell the city's plugins.

    ``settings`` replace the stored ones; ``secrets`` are merged into the stored ones. Both
    are checked against the plugin's declaration first (``core.plugins.config.check``): a
    refusal raises and stores nothing. Returns the new set.
    """
    from guahao.tenants.service import configure_plugin, get_city, plugin_config

    from .config import check

    stored = await plugin_config(rt.db, city, plugin)
    stored_secrets = stored["secrets"] if stored else {}
    settings, new_secrets = check(rt.plugins, plugin, settings or {}, secrets, stored_secrets=stored_secrets,
                                  enabled=enabled)
    merged = {**stored_secrets, **new_secrets} if secrets is not None else None
    await configure_plugin(rt.db, city, plugin, enabled=enabled, settings=settings, secrets=merged)
    fresh = await get_city(rt.db, city.slug) or city
    rt.plugins.invalidate(city.id)
    rt.resolver.invalidate(city.slug)
    plugins = await rt.plugins.for_city(fresh)
    await call_robust(plugins.hook.guahao_city_configured, city=fresh)
    return plugins


def iter_hook_plugins(pm: pluggy.PluginManager, hook: str) -> Iterable[tuple[str, Any]]:
    """``(plugin name, implementation function)`` of a hook across all installed plugins."""
    for impl in sorted(getattr(pm.hook, hook).get_hookimpls(), key=lambda i: i.plugin_name):
        yield impl.plugin_name, impl.function


def attach_runtime(adapter, rt) -> None:
    """Hand the runtime to an in-process adapter that reads the platform's own tables (the demo
    HIS defines ``attach_runtime``); adapters of real systems do not need it."""
    hook = getattr(adapter, "attach_runtime", None)
    if callable(hook):
        hook(rt)
