"""The plugin settings reference: every working plugin's declaration as Markdown.

Generated from each plugin's ``META`` (:class:`~core.plugins.meta.PluginMeta`) and its settings
models, so it never says anything the declaration does not: per category, each plugin's names,
version, compatible plugin-API range, description, and a table of its settings (city-wide, and
per hospital where it declares ``hospital_settings``). ``guahao plugin docs`` prints or writes
it; the copy in ``docs/plugin-settings.md`` covers the built-in plugins and a test keeps it
current. The output is deterministic (sorted, no timestamps), so a diff shows what changed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .loader import Discovery, InstalledPlugin, discover
from .meta import API_VERSION, CATEGORIES, PluginMeta
from .settings import FieldSpec, PluginSettings, form_fields

DOCS_PATH = "docs/plugin-settings.md"
"""Where the reference of the built-in plugins is kept, relative to the repository root."""

_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")
_LITERAL = re.compile(r"Literal\[([^\[\]]*)\]")


def type_label(field: FieldSpec) -> str:
    """A setting's type as people read it: ``int``, ``list[sms | email]``, ``cny | usd``."""
    if field.widget == "choice" and field.choices:
        return " | ".join(field.choices)
    text = _QUALIFIED.sub(r"\1", field.type_name)
    return _LITERAL.sub(lambda m: " | ".join(p.strip().strip("'\"") for p in m.group(1).split(",")), text)


def value_text(value: Any) -> str:
    """A default or example value as JSON (Chinese kept readable); ``""`` for none."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def working_plugins(discovery: Discovery | None = None, *, builtin_only: bool = False) -> list[InstalledPlugin]:
    """The working plugins, by category (in :data:`CATEGORIES` order) and then by name."""
    found = (discovery or discover()).plugins.values()
    order = {code: i for i, code in enumerate(CATEGORIES)}
    chosen = [p for p in found if p.builtin or not builtin_only]
    return sorted(chosen, key=lambda p: (order.get(p.meta.category, len(order)), p.name))


# --- Markdown -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def settings_table(model: type[PluginSettings] | None) -> list[str]:
    """The Markdown table of a settings model (one row per setting, in declaration order)."""
    fields = form_fields(model)
    if not fields:
        return ["No settings. 无需设置。"]
    lines = [
        "| name | label (zh-CN) | label (en) | type | default | required | secret | help (zh-CN) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in fields:
        help_text = f.help
        if f.example is not None:
            help_text = f"{help_text} 例：{_code(value_text(f.example))}".strip()
        default = "—" if f.required or f.default is None else _code(value_text(f.default))
        lines.append(
            f"| {_code(f.name)} | {_cell(f.label)} | {_cell(f.label_en)} | {_code(type_label(f))} | {default} "
            f"| {'yes' if f.required else 'no'} | {'yes' if f.secret else 'no'} | {_cell(help_text)} |"
        )
    return lines


def plugin_section(meta: PluginMeta) -> list[str]:
    """One plugin's part of the reference: heading, facts, description, settings tables."""
    lines = [
        f"### {meta.verbose_name} / {meta.verbose_name_en or meta.verbose_name} — `{meta.name}`",
        "",
        f"- code name: `{meta.name}`",
        f"- version: {meta.version}",
        f"- compatibility: plugin API `{meta.compatibility}`",
    ]
    if meta.author:
        lines.append(f"- author: {meta.author}")
    if meta.url:
        lines.append(f"- documentation: <{meta.url}>")
    if meta.migrations is not None:
        lines.append(f"- own tables: yes (Alembic branch `{meta.name}`)")
    lines.append("")
    if meta.description:
        lines += [meta.description, ""]
    if meta.description_en:
        lines += [meta.description_en, ""]
    lines += ["#### Settings (city-wide) / 城市设置", "", *settings_table(meta.settings), ""]
    if meta.hospital_settings is not None:
        lines += [
            "#### Per-hospital settings (`hospital_settings`) / 医院设置",
            "",
            "A hospital's value overrides the city's value of the same name. 医院的取值优先于同名的城市取值。",
            "",
            *settings_table(meta.hospital_settings),
            "",
        ]
    secrets = [f.name for f in form_fields(meta.settings) if f.secret]
    example = f"guahao city plugin CITY {meta.name}"
    for f in form_fields(meta.settings):
        if f.required:
            example += f" --{'secret' if f.secret else 'set'} {f.name}=…"
    lines += ["```sh", example, "```", ""]
    if secrets:
        lines += [f"Secrets ({', '.join(f'`{s}`' for s in secrets)}) are given with `--secret`, stored "
                  "encrypted and never shown again.", ""]
    return lines


def reference(discovery: Discovery | None = None, *, builtin_only: bool = False) -> str:
    """The whole reference as Markdown (ends with one newline)."""
    plugins = working_plugins(discovery, builtin_only=builtin_only)
    scope = "the plugins shipped with the platform" if builtin_only else "every working plugin installed here"
    command = "guahao plugin docs --builtin --out docs/plugin-settings.md" if builtin_only else "guahao plugin docs"
    lines = [
        "# Plugin settings reference / 插件设置参考",
        "",
        f"Generated from the plugins' declarations (`META`) by `{command}`; do not edit by hand.",
        f"It covers {scope}, plugin API {API_VERSION}. How to write a plugin: [plugins.md](plugins.md).",
        "",
        "Settings are given per city in the operator console (city settings → plugins) or with",
        "`guahao city plugin CITY PLUGIN --set name=value --secret name=value`. Values are checked",
        "against the declaration before anything is stored; a required setting may stay empty while",
        "the plugin is disabled. Secrets are write-only: stored encrypted, never shown again.",
        "",
        "必填项在启用插件前必须填写；密钥（secret）加密保存，保存后不再显示。",
        "",
    ]
    current = None
    for plugin in plugins:
        meta = plugin.meta
        if meta.category != current:
            current = meta.category
            lines += [f"## {meta.category_label('zh-CN')} / {meta.category_label('en')}", ""]
        lines += plugin_section(meta)
    if not plugins:
        lines += ["No working plugins. 没有可用的插件。", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
