"""``guahao plugin …``: what is installed, what each plugin declares, the settings reference.

These commands read the plugins' declarations only (``core.plugins.loader.discover``): they
need no database, no Redis and no keys, so they work on a machine being set up.
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from guahao.core.plugins.loader import BrokenPlugin, Discovery, discover
from guahao.core.plugins.meta import API_VERSION, PluginMeta
from guahao.core.plugins.reference import reference, type_label, value_text, working_plugins
from guahao.core.plugins.settings import PluginSettings, form_fields

from .common import CliError, add_command, pad


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _broken_line(broken: BrokenPlugin) -> str:
    return f"broken ({broken.stage} check failed): {_one_line(broken.reason)}"


def list_lines(found: Discovery) -> list[str]:
    """Every installed plugin (name, version, category, zh-CN label), then the broken ones."""
    if not found.plugins and not found.broken:
        return ["no plugins installed (entry-point group 'guahao')"]
    lines = [pad("name", 18) + pad("version", 10) + pad("category", 14) + "label"]
    for p in working_plugins(found):
        lines.append(pad(p.name, 18) + pad(p.meta.version, 10) + pad(p.meta.category, 14) + p.meta.label("zh-CN"))
    for name, broken in sorted(found.broken.items()):
        lines.append(pad(name, 18) + pad("-", 10) + pad("-", 14) + _broken_line(broken))
    return lines


def _settings_lines(title: str, model: type[PluginSettings] | None) -> list[str]:
    fields = form_fields(model)
    if not fields:
        return [f"{title}: none"]
    rows = [("name", "type", "default", "required", "secret", "label")]
    for f in fields:
        default = "-" if f.required or f.default is None else value_text(f.default)
        rows.append((f.name, type_label(f), default, "yes" if f.required else "no", "yes" if f.secret else "no",
                     f.label if f.label_en in ("", f.label) else f"{f.label} / {f.label_en}"))
    widths = [max(_width(r[i]) for r in rows) + 2 for i in range(5)]
    lines = [f"{title}:"]
    for i, row in enumerate(rows):
        lines.append("  " + "".join(pad(cell, w) for cell, w in zip(row[:5], widths, strict=False)) + row[5])
        if i and fields[i - 1].help:
            lines.append("      " + _one_line(fields[i - 1].help))
    secret = [f.name for f in fields if f.secret]
    required = [f.name for f in fields if f.required]
    lines.append(f"  secret (write-only, stored encrypted; give with --secret): {', '.join(secret) or 'none'}")
    lines.append(f"  required (the plugin cannot work without them): {', '.join(required) or 'none'}")
    return lines


def show_lines(meta: PluginMeta, target: str, builtin: bool) -> list[str]:
    """One plugin's declaration and settings, in plain text."""
    lines = [
        f"{meta.name} — {meta.verbose_name} / {meta.verbose_name_en or meta.verbose_name}",
        f"category:       {meta.category} ({meta.category_label('zh-CN')} / {meta.category_label('en')})",
        f"version:        {meta.version}",
        f"compatibility:  plugin API {meta.compatibility} (this platform: {API_VERSION})",
        f"module:         {target}" + (" (built-in)" if builtin else ""),
    ]
    if meta.author:
        lines.append(f"author:         {meta.author}")
    if meta.url:
        lines.append(f"url:            {meta.url}")
    lines.append(f"migrations:     {meta.migrations if meta.migrations is not None else 'none (no tables of its own)'}")
    if meta.description:
        lines.append(f"description:    {_one_line(meta.description)}")
    if meta.description_en:
        lines.append(f"                {_one_line(meta.description_en)}")
    lines += ["", *_settings_lines("settings (per city)", meta.settings)]
    if meta.hospital_settings is not None:
        lines += ["", *_settings_lines("per-hospital settings (hospital_settings)", meta.hospital_settings)]
    lines += ["", f"configure: guahao city plugin CITY {meta.name} --set NAME=VALUE --secret NAME=VALUE"]
    return lines


def cmd_plugin_list(args) -> int:
    print("\n".join(list_lines(discover())))
    return 0


def cmd_plugin_show(args) -> int:
    found = discover()
    if args.name in found.broken:
        raise CliError(f"plugin {args.name!r} is {_broken_line(found.broken[args.name])}")
    plugin = found.plugins.get(args.name)
    if plugin is None:
        known = ", ".join(sorted(found.plugins)) or "none"
        raise CliError(f"no plugin {args.name!r} is installed (installed: {known}); see `guahao plugin list`")
    print("\n".join(show_lines(plugin.meta, plugin.target, plugin.builtin)))
    return 0


def cmd_plugin_docs(args) -> int:
    text = reference(discover(), builtin_only=args.builtin)
    if args.out is None:
        print(text, end="")
        return 0
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote the plugin settings reference to {out}")
    return 0


def add_plugin_commands(subs, epilog: str) -> None:
    """Add ``plugin list|show|docs`` to the top-level sub-commands."""
    help_text = "List the installed plugins, show one's declared settings, write the settings reference."
    plugin = subs.add_parser("plugin", help=help_text, description=help_text, epilog=epilog,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    psubs = plugin.add_subparsers(dest="plugin_command", metavar="PLUGIN_COMMAND", required=True)

    add_command(psubs, "list", "List every installed plugin, and the broken ones with the reason.", cmd_plugin_list,
                "example:\n  guahao plugin list")

    p = add_command(psubs, "show", "Show a plugin's declaration and its settings (which are secret, which required).",
                    cmd_plugin_show, "example:\n  guahao plugin show sms_aliyun")
    p.add_argument("name", help="the plugin's code name (see `guahao plugin list`)")

    p = add_command(psubs, "docs", "Print the Markdown settings reference of the working plugins, or write it.",
                    cmd_plugin_docs,
                    "examples:\n  guahao plugin docs\n  guahao plugin docs --builtin --out docs/plugin-settings.md")
    p.add_argument("--out", metavar="PATH", help="write the reference to PATH instead of printing it")
    p.add_argument("--builtin", action="store_true",
                   help="only the plugins shipped with the platform (the copy kept in docs/plugin-settings.md)")
