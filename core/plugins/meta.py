"""What a plugin says about itself: :class:`PluginMeta`, declared once as ``META`` in the
plugin's module.

The declaration names the plugin, labels it in Chinese and English, files it under a
category, gives its version and the range of the plugin API it was written for, and points
at its settings models (city-wide and, where the far end belongs to a hospital, per hospital)
and at its own migrations. The console form, the CLI's validation, the generated settings
reference and the start-up check all read this one declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from .settings import PluginSettings

API_VERSION = "1.2"
"""The plugin API's version. A minor step adds to the API; a major step may break plugins."""

CATEGORIES: dict[str, tuple[str, str]] = {
    "payment": ("支付方式", "Payment"),
    "his": ("医院信息系统对接", "Hospital system (HIS)"),
    "channel": ("患者渠道", "Patient channel"),
    "notification": ("消息通知", "Notifications"),
    "identity": ("实名认证", "Identity verification"),
    "licensing": ("授权与计量", "Licensing"),
    "other": ("其他", "Other"),
}
"""Category code → (zh-CN, English) label."""


class PluginDeclarationError(ValueError):
    """A plugin's ``META`` is missing, malformed or incompatible; the text says which."""


@dataclass(frozen=True)
class PluginMeta:
    """A plugin's declaration.

    Parameters:
        name: the plugin's identifier, equal to its entry-point name (``sms_aliyun``).
        verbose_name: the name people read, zh-CN (``阿里云短信``).
        verbose_name_en: the same in English.
        category: one of :data:`CATEGORIES`.
        version: the plugin's own version (``1.2.0``).
        compatibility: the plugin API versions it works with, a PEP 440 specifier
            (``>=1.0,<2``); checked against :data:`API_VERSION` at start.
        description: one or two sentences on what it does, zh-CN.
        description_en: the same in English.
        settings: the city-wide settings model (a :class:`PluginSettings` subclass), or
            ``None`` when the plugin has nothing to set.
        hospital_settings: settings a hospital may set for itself (its HIS address, its
            merchant account), overriding the city's values of the same name.
        migrations: folder of the plugin's own Alembic revisions (a branch labelled with the
            plugin's name), or ``None`` when it has no tables.
        always_enabled: part of the platform in every city (licensing): it hears every city's
            events without being enabled, and a city cannot turn it off.
        author: who maintains it.
        url: where its documentation or source lives.
    """

    name: str
    verbose_name: str
    verbose_name_en: str
    category: str
    version: str
    compatibility: str = ">=1.0,<2"
    description: str = ""
    description_en: str = ""
    settings: type[PluginSettings] | None = None
    hospital_settings: type[PluginSettings] | None = None
    migrations: Path | str | None = None
    always_enabled: bool = False
    author: str = ""
    url: str = ""

    def label(self, lang: str = "zh-CN") -> str:
        return self.verbose_name_en if lang.startswith("en") and self.verbose_name_en else self.verbose_name

    def summary(self, lang: str = "zh-CN") -> str:
        return self.description_en if lang.startswith("en") and self.description_en else self.description

    def category_label(self, lang: str = "zh-CN") -> str:
        zh, en = CATEGORIES.get(self.category, CATEGORIES["other"])
        return en if lang.startswith("en") else zh

    def compatible(self, api_version: str = API_VERSION) -> bool:
        """Whether the running plugin API is inside the declared range."""
        return Version(api_version) in SpecifierSet(self.compatibility)

    def check(self, expected_name: str, api_version: str = API_VERSION) -> None:
        """Raise :class:`PluginDeclarationError` unless this declaration can be used as
        the plugin ``expected_name`` under ``api_version``."""
        if self.name != expected_name:
            raise PluginDeclarationError(f"META.name is {self.name!r} but the plugin is installed as {expected_name!r}")
        if not self.verbose_name:
            raise PluginDeclarationError("META.verbose_name is empty")
        if self.category not in CATEGORIES:
            raise PluginDeclarationError(f"unknown category {self.category!r}; one of {', '.join(CATEGORIES)}")
        try:
            Version(self.version)
        except Exception:
            raise PluginDeclarationError(f"version {self.version!r} is not a version number") from None
        try:
            compatible = self.compatible(api_version)
        except InvalidSpecifier:
            raise PluginDeclarationError(f"compatibility {self.compatibility!r} is not a version range") from None
        if not compatible:
            raise PluginDeclarationError(
                f"written for plugin API {self.compatibility}, this platform offers {api_version}"
            )
        for attr in ("settings", "hospital_settings"):
            model = getattr(self, attr)
            if model is not None and not (isinstance(model, type) and issubclass(model, PluginSettings)):
                raise PluginDeclarationError(f"META.{attr} must be a PluginSettings subclass")
        if self.migrations is not None and not Path(self.migrations).is_dir():
            raise PluginDeclarationError(f"migrations folder {self.migrations} does not exist")


def meta_of(module: object, name: str, api_version: str = API_VERSION) -> PluginMeta:
    """The checked ``META`` of a plugin module; :class:`PluginDeclarationError` otherwise."""
    meta = getattr(module, "META", None)
    if not isinstance(meta, PluginMeta):
        raise PluginDeclarationError("the plugin declares no META = PluginMeta(...)")
    meta.check(name, api_version)
    return meta
