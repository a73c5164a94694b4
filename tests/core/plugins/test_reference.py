"""The generated plugin settings reference: complete, deterministic, and the committed copy current."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from guahao.core.plugins.loader import BUILTIN, BrokenPlugin, Discovery, InstalledPlugin, discover
from guahao.core.plugins.reference import DOCS_PATH, reference, type_label
from guahao.core.plugins.settings import form_fields
from guahao.plugin_api import PluginMeta, PluginSettings, setting

ROOT = Path(__file__).resolve().parents[3]


def test_committed_reference_is_current():
    committed = (ROOT / DOCS_PATH).read_text(encoding="utf-8")
    assert committed == reference(discover(), builtin_only=True), (
        f"{DOCS_PATH} is out of date with the plugins' declarations: "
        "run `guahao plugin docs --builtin --out docs/plugin-settings.md` and commit the result"
    )


def test_every_builtin_plugin_and_setting_is_described():
    text = reference(discover(), builtin_only=True)
    for name in BUILTIN:
        meta = discover().plugins[name].meta
        assert f"— `{name}`" in text
        assert meta.verbose_name in text and meta.verbose_name_en in text
        for field in form_fields(meta.settings):
            assert f"| `{field.name}` | {field.label} |" in text
    assert "| `access_key_secret` | AccessKey Secret | AccessKey Secret | `str` | — | yes | yes |" in text
    assert "| `currency` | 币种 | Currency | `cny \\| hkd \\| usd \\| eur` | `\"cny\"` | no | no |" in text


def test_hospital_settings_get_their_own_table():
    text = reference(discover(), builtin_only=True)
    demo = text.split("— `demo_his`", 1)[1].split("\n### ", 1)[0]
    assert "#### Per-hospital settings (`hospital_settings`)" in demo
    city_part, hospital_part = demo.split("#### Per-hospital settings (`hospital_settings`)")
    assert "| `token` |" in city_part and "| `token` |" not in hospital_part  # the token is the city's
    assert "| `fail_pushes` |" in city_part and "| `fail_pushes` |" in hospital_part
    stripe = text.split("— `stripe`", 1)[1].split("\n### ", 1)[0]
    assert "hospital_settings" not in stripe
    assert "Alembic branch `stripe`" in stripe


def test_output_is_sorted_and_stable():
    assert reference(discover(), builtin_only=True) == reference(discover(refresh=True), builtin_only=True)
    text = reference(discover(), builtin_only=True)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## 支付方式 / Payment", "## 医院信息系统对接 / Hospital system (HIS)",
                        "## 患者渠道 / Patient channel", "## 消息通知 / Notifications"]
    notification = text.split("## 消息通知", 1)[1]
    order = ["email_smtp", "message_log", "sms_aliyun", "sms_tencent", "wechat_template"]
    assert sorted(order, key=lambda n: notification.index(f"— `{n}`")) == order
    assert text.endswith("\n") and not text.endswith("\n\n")


class _Settings(PluginSettings):
    mode: str = setting("a|b", label="模式", label_en="Mode", help="第一行\n第二行")
    api_key: str = setting(secret=True, label="密钥", label_en="API key")


def _installed(meta: PluginMeta, builtin: bool = False) -> InstalledPlugin:
    return InstalledPlugin(meta.name, f"x.{meta.name}", ModuleType(meta.name), meta, builtin)


def test_third_party_broken_and_settingless_plugins():
    plain = PluginMeta(name="plain", verbose_name="无设置", verbose_name_en="Plain", category="other",
                       version="0.1.0", url="https://example.cn/plain")
    extra = PluginMeta(name="extra", verbose_name="外部", verbose_name_en="Extra", category="his", version="2.0.0",
                       compatibility=">=1.0,<3", settings=_Settings)
    found = Discovery(plugins={"plain": _installed(plain), "extra": _installed(extra)},
                      broken={"ghost": BrokenPlugin("ghost", "ghost", "import", "ModuleNotFoundError: ghost")})
    text = reference(found)
    assert "ghost" not in text
    assert "every working plugin installed here" in text
    assert "No settings. 无需设置。" in text and "<https://example.cn/plain>" in text
    assert "plugin API `>=1.0,<3`" in text
    assert '| `mode` | 模式 | Mode | `str` | `"a\\|b"` | no | no | 第一行 第二行 |' in text
    assert "guahao city plugin CITY extra --secret api_key=…" in text
    assert text.index("## 医院信息系统对接") < text.index("## 其他")
    assert reference(found, builtin_only=True).count("### ") == 0


def test_type_labels_read_plainly():
    fields = {f.name: f for p in discover().plugins.values() for f in form_fields(p.meta.settings)}
    assert type_label(fields["channels"]) == "list[sms | wechat | email | voice | push]"
    assert type_label(fields["kiosk_terminals"]) == "dict[str, KioskTerminal]"
    assert type_label(fields["port"]) == "int"


def test_the_guide_names_the_whole_public_api_and_every_hook():
    import guahao.plugin_api
    from guahao.core import hookspecs

    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [name for name in guahao.plugin_api.__all__ if f"| `{name}` |" not in guide]
    assert not missing, f"docs/plugins.md does not list these names of guahao.plugin_api: {missing}"
    hooks = [name for name in dir(hookspecs) if name.startswith("guahao_")]
    assert hooks and all(f"`{name}(" in guide for name in hooks)
