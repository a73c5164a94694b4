"""The declaration of the Alipay provider: metadata and settings (Alipay's own names)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import field_validator

from guahao.plugin_api import PluginMeta, PluginSettings, endpoint_setting, setting, timeout_setting

from .keys import KeyInvalid, private_key, public_key

GATEWAY = "https://openapi.alipay.com/gateway.do"


def _digits(value: object) -> object:
    # An APPID is all digits: the CLI's `--set app_id=2021…` reads it as a JSON number.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _key(check, value: str) -> str:
    try:
        check(value)
    except KeyInvalid as exc:
        raise ValueError(str(exc)) from None
    return value


class Settings(PluginSettings):
    app_id: str = setting(label="应用 APPID", label_en="App ID (APPID)", pattern=r"^\d{6,32}$", example="2021000000000000",
                          help="支付宝开放平台 → 我的应用 → APPID。", help_en="Alipay open platform → My apps → APPID.")
    gateway: str = endpoint_setting(GATEWAY)
    sign_type: Literal["RSA2"] = setting("RSA2", label="签名方式", label_en="Signature type",
                                         help="只支持 RSA2（SHA256withRSA）。", help_en="RSA2 (SHA256withRSA) only.")
    timeout: float = timeout_setting(15.0, "支付宝网关", "Alipay's gateway")
    notify_base_url: str = setting("", label="回调站点地址", label_en="Callback site address", pattern=r"^(https?://\S+)?$",
                                   example="https://guahao.example.cn",
                                   help="支付宝异步通知发往的站点地址（公网可达）；留空使用患者支付时所在站点的地址。",
                                   help_en="Public address Alipay's notifies are sent to; empty for the site the member pays on.")
    app_private_key: str = setting(secret=True, label="应用私钥（PEM）", label_en="App private key (PEM)", widget="textarea",
                                   help="用开放平台密钥工具生成的 RSA2048 应用私钥，用于给请求签名。",
                                   help_en="The app's RSA 2048 private key; signs every request.")
    alipay_public_key: str = setting(secret=True, label="支付宝公钥（PEM）", label_en="Alipay public key (PEM)",
                                     widget="textarea",
                                     help="开放平台 → 开发设置 → 支付宝公钥，用于验证应答与异步通知的签名。",
                                     help_en="Alipay's public key (development settings); verifies answers and notifies.")

    _app_id = field_validator("app_id", mode="before")(lambda cls, v: _digits(v))
    _private = field_validator("app_private_key")(lambda cls, v: _key(private_key, v))
    _public = field_validator("alipay_public_key")(lambda cls, v: _key(public_key, v))


class HospitalSettings(PluginSettings):
    """A hospital that takes the fees into its own Alipay merchant account sets all three;
    empty ones come from the city."""

    app_id: str | None = setting(None, label="应用 APPID", label_en="App ID (APPID)", pattern=r"^\d{6,32}$",
                                 help="医院自己的支付宝应用；留空使用城市的设置。",
                                 help_en="The hospital's own Alipay app; empty for the city's.")
    app_private_key: str | None = setting(None, secret=True, label="应用私钥（PEM）", label_en="App private key (PEM)",
                                          widget="textarea", help="医院应用的私钥。", help_en="The hospital app's private key.")
    alipay_public_key: str | None = setting(None, secret=True, label="支付宝公钥（PEM）", label_en="Alipay public key (PEM)",
                                            widget="textarea", help="医院应用对应的支付宝公钥。",
                                            help_en="Alipay's public key for the hospital's app.")

    _app_id = field_validator("app_id", mode="before")(lambda cls, v: _digits(v))
    _private = field_validator("app_private_key")(lambda cls, v: v if v is None else _key(private_key, v))
    _public = field_validator("alipay_public_key")(lambda cls, v: v if v is None else _key(public_key, v))


META = PluginMeta(
    name="alipay", verbose_name="支付宝", verbose_name_en="Alipay", category="payment",
    version="1.0.0",
    description="患者用支付宝支付挂号费：电脑网站支付、手机网站支付、自助机扫码（当面付）；异步通知验签、退款、对账单下载。",
    description_en="Patients pay the fee with Alipay: desktop page pay, mobile wap pay, QR code at the kiosk (precreate); "
                   "signed notifies, refunds, statement download.",
    settings=Settings, hospital_settings=HospitalSettings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
