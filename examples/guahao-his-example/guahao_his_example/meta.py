"""The plugin's declaration: who it is, which API it needs, what a city sets."""

from __future__ import annotations

from pathlib import Path

from guahao.plugin_api import PluginMeta, PluginSettings, setting, timeout_setting

NAME = "his_example"


class Settings(PluginSettings):
    endpoint: str = setting(
        label="HIS 接口地址",
        label_en="HIS endpoint",
        pattern=r"^https?://\S+$",
        example="https://his.example.cn/api",
        help="医院提供的接口根地址，不带结尾的斜杠。",
        help_en="The hospital's API root, without a trailing slash.",
    )
    timeout: float = timeout_setting(10.0, "医院", "the hospital")
    signing_key: str = setting(secret=True, label="签名密钥", label_en="Signing key", min_length=16,
                               help="与医院约定的 HMAC-SHA256 密钥，双向签名都用它。",
                               help_en="The HMAC-SHA256 key agreed with the hospital, for both directions.")


META = PluginMeta(
    name=NAME, verbose_name="示例 HIS（JSON）", verbose_name_en="Example HIS (JSON)", category="his",
    version="1.0.0", compatibility=">=1.0,<2",
    description="通过签名的 JSON 接口向医院推送预约与取消，并接收医院回报的患者到院。",
    description_en="Pushes bookings and cancellations to the hospital over signed JSON and takes its arrival reports.",
    settings=Settings, hospital_settings=None, migrations=Path(__file__).parent / "migrations",
    author="guahao",
)
