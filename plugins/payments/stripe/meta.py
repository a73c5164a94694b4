"""The declaration of the Stripe Checkout provider: metadata and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from guahao.plugin_api import PluginMeta, PluginSettings, setting


class Settings(PluginSettings):
    currency: Literal["cny", "hkd", "usd", "eur"] = setting("cny", label="币种", label_en="Currency",
                                                          help="挂号费结算币种。", help_en="Currency the fees are charged in.")
    api_base: str = setting("", label="接口地址", label_en="API base", pattern=r"^(https?://\S+)?$",
                            help="留空使用 Stripe 官方地址。", help_en="Empty for Stripe's own address.")
    max_network_retries: int = setting(2, label="网络重试次数", label_en="Network retries", ge=0, le=5,
                                       help="连接失败时 Stripe 客户端自动重试的次数。",
                                       help_en="How often the Stripe client retries a failed connection.")
    secret_key: str = setting(secret=True, label="密钥（sk_…）", label_en="Secret key (sk_…)", pattern=r"^(sk|rk)_\S+$",
                              help="Stripe 控制台 → 开发者 → API 密钥。", help_en="Stripe dashboard → Developers → API keys.")
    webhook_secret: str = setting(secret=True, label="Webhook 签名密钥（whsec_…）", label_en="Webhook secret (whsec_…)",
                                  pattern=r"^whsec_\S+$",
                                  help="为 /c/{城市}/plugins/stripe/webhook 建立端点后显示的签名密钥。",
                                  help_en="The signing secret of the endpoint /c/{city}/plugins/stripe/webhook.")


META = PluginMeta(
    name="stripe", verbose_name="Stripe 在线支付", verbose_name_en="Stripe Checkout", category="payment",
    version="1.0.0", description="患者在 Stripe 托管的收银台在线支付挂号费；退款经 Stripe 原路退回。",
    description_en="Patients pay the fee online on Stripe's hosted Checkout; refunds go back through Stripe.",
    settings=Settings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
