"""The declaration of the carrier billing provider: metadata and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from guahao.plugin_api import PluginMeta, PluginSettings, setting, timeout_setting


class Settings(PluginSettings):
    gateway_url: str = setting(label="网关地址", label_en="Gateway address", pattern=r"^https?://\S+$",
                               example="https://pay.carrier.example.cn/gh",
                               help="运营商代扣网关的基础地址（按 docs/carrier-gateway.md 实现）。",
                               help_en="Base address of the carrier's billing gateway (implements docs/carrier-gateway.md).")
    key_id: str = setting(label="密钥编号", label_en="Key id", pattern=r"^[A-Za-z0-9_.-]{1,64}$", example="gh-city-01",
                          help="运营商分配的密钥编号，放在 X-Carrier-Key-Id 头中。",
                          help_en="The key id the carrier issued; sent as X-Carrier-Key-Id.")
    carrier: Literal["cmcc", "unicom", "telecom"] = setting(
        label="运营商", label_en="Carrier", example="cmcc",
        help="cmcc 中国移动、unicom 中国联通、telecom 中国电信。", help_en="cmcc (China Mobile), unicom, telecom.")
    notify_base_url: str = setting("", label="回调站点地址", label_en="Callback site address", pattern=r"^(https?://\S+)?$",
                                   example="https://guahao.example.cn",
                                   help="运营商结果回调发往的站点地址；留空使用患者支付时所在站点的地址。",
                                   help_en="Public address result callbacks are sent to; empty for the site the member pays on.")
    timeout: float = timeout_setting(15.0, "运营商网关", "the carrier gateway")
    shared_secret: str = setting(secret=True, label="共享密钥", label_en="Shared secret", min_length=32,
                                 help="双方签名用的 HMAC-SHA256 共享密钥（至少 32 个字符）。",
                                 help_en="The HMAC-SHA256 secret both sides sign with (at least 32 characters).")


META = PluginMeta(
    name="carrier", verbose_name="话费支付（运营商代扣）", verbose_name_en="Carrier billing", category="payment",
    version="1.0.0",
    description="患者用手机话费支付挂号费：运营商向患者手机发送确认短信，患者回复 Y 后扣费；签名回调、退款、月对账单。",
    description_en="Patients pay the fee on their phone bill: the carrier texts the member, a reply of Y confirms the "
                   "charge; signed result callbacks, refunds, monthly statement.",
    settings=Settings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
