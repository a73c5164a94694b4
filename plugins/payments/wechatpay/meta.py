"""The declaration of the WeChat Pay (API v3) provider: metadata and settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from guahao.plugin_api import PluginMeta, PluginSettings, endpoint_setting, setting, timeout_setting

DEFAULT_API_BASE = "https://api.mch.weixin.qq.com"


def _as_digits(value):
    # ``--set mchid=1900000001`` reads as a JSON number: a merchant id is its digits.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _private_pem(value):
    if value and "PRIVATE KEY-----" not in value:
        raise ValueError("应为 PEM 格式的私钥 / must be a PEM private key")
    return value


def _public_pem(value):
    if value and "PUBLIC KEY-----" not in value:
        raise ValueError("应为 PEM 格式的公钥 / must be a PEM public key")
    return value


class Settings(PluginSettings):
    mchid: str = setting(label="商户号", label_en="Merchant id (mchid)", pattern=r"^\d{6,32}$", example="1900000001",
                         help="微信支付商户平台的商户号。", help_en="The merchant id of the WeChat Pay merchant account.")
    appid: str = setting(label="AppID", label_en="AppID", pattern=r"^wx[0-9a-zA-Z]{8,30}$", example="wxd678efh567hg6787",
                         help="与商户号绑定的公众号或小程序 AppID（JSAPI 支付用其 openid）。",
                         help_en="The official account or mini program bound to the merchant id (JSAPI uses its openid).")
    cert_serial_no: str = setting(label="商户 API 证书序列号", label_en="Merchant certificate serial number",
                                  pattern=r"^[0-9A-Fa-f]{8,64}$",
                                  help="商户 API 证书的序列号，签名请求时一并发送。",
                                  help_en="Serial number of the merchant API certificate, sent with every signed request.")
    platform_public_key_id: str = setting(label="微信支付公钥 ID", label_en="WeChat Pay public key id",
                                          pattern=r"^PUB_KEY_ID_\w+$", example="PUB_KEY_ID_0114232134912410000000000000",
                                          help="商户平台 → API 安全 → 微信支付公钥的 ID；"
                                               "应答与回调的 Wechatpay-Serial 须与之相同。",
                                          help_en="Merchant platform → API security → WeChat Pay public key id; "
                                                  "answers and callbacks must carry it as Wechatpay-Serial.")
    api_base: str = endpoint_setting(DEFAULT_API_BASE)
    notify_url: str = setting("", label="回调地址", label_en="Notify URL", pattern=r"^(https?://\S+)?$",
                              help="留空时使用本平台的 /c/{城市}/plugins/wechatpay/notify（由患者访问的站点地址推得）；"
                                   "退款通知需要此地址，未设置时由任务反复查询退款直到完成。",
                              help_en="Empty: this platform's /c/{city}/plugins/wechatpay/notify, derived from the "
                                      "site's address; refund notices need it set (without it, refunds are asked "
                                      "about again until done).")
    timeout: float = timeout_setting(10.0, "微信支付", "WeChat Pay", most=30)
    private_key: str = setting(secret=True, label="商户 API 私钥（PEM）", label_en="Merchant API private key (PEM)",
                               widget="textarea", help="apiclient_key.pem 的内容。", help_en="The content of apiclient_key.pem.")
    apiv3_key: str = setting(secret=True, label="APIv3 密钥", label_en="APIv3 key", min_length=32, max_length=32,
                             help="商户平台设置的 32 位 APIv3 密钥，用于解密回调。",
                             help_en="The 32-character APIv3 key set in the merchant platform; decrypts callbacks.")
    platform_public_key: str = setting(secret=True, label="微信支付公钥（PEM）", label_en="WeChat Pay public key (PEM)",
                                       widget="textarea", help="用于验证应答与回调签名。",
                                       help_en="Verifies the signatures of answers and callbacks.")

    _digits = field_validator("mchid", mode="before")(classmethod(lambda cls, value: _as_digits(value)))
    _private = field_validator("private_key")(classmethod(lambda cls, value: _private_pem(value)))
    _public = field_validator("platform_public_key")(classmethod(lambda cls, value: _public_pem(value)))

class HospitalSettings(PluginSettings):
    """A hospital that takes the fees on its own merchant account (its own 商户号 and keys);
    what it leaves empty comes from the city."""

    mchid: str | None = setting(None, label="商户号", label_en="Merchant id (mchid)", pattern=r"^\d{6,32}$",
                                help="本院自己的微信支付商户号；留空使用城市的。",
                                help_en="This hospital's own merchant id; empty: the city's.")
    appid: str | None = setting(None, label="AppID", label_en="AppID", pattern=r"^wx[0-9a-zA-Z]{8,30}$")
    cert_serial_no: str | None = setting(None, label="商户 API 证书序列号", label_en="Merchant certificate serial number",
                                         pattern=r"^[0-9A-Fa-f]{8,64}$")
    platform_public_key_id: str | None = setting(None, label="微信支付公钥 ID", label_en="WeChat Pay public key id",
                                                 pattern=r"^PUB_KEY_ID_\w+$")
    private_key: str | None = setting(None, secret=True, widget="textarea", label="商户 API 私钥（PEM）",
                                      label_en="Merchant API private key (PEM)")
    apiv3_key: str | None = setting(None, secret=True, label="APIv3 密钥", label_en="APIv3 key", min_length=32,
                                    max_length=32)
    platform_public_key: str | None = setting(None, secret=True, widget="textarea", label="微信支付公钥（PEM）",
                                              label_en="WeChat Pay public key (PEM)")

    _digits = field_validator("mchid", mode="before")(classmethod(lambda cls, value: _as_digits(value)))
    _private = field_validator("private_key")(classmethod(lambda cls, value: _private_pem(value)))
    _public = field_validator("platform_public_key")(classmethod(lambda cls, value: _public_pem(value)))


META = PluginMeta(
    name="wechatpay", verbose_name="微信支付", verbose_name_en="WeChat Pay", category="payment",
    version="1.0.0",
    description="患者用微信支付挂号费：微信内 JSAPI、手机浏览器 H5、电脑与自助机扫码（Native）；退款原路退回，每日对账单可下载。",
    description_en="Patients pay the fee with WeChat Pay: JSAPI inside WeChat, H5 in mobile browsers, a QR code "
                   "(Native) on computers and kiosks; refunds go back the same way; daily trade bills for reconciliation.",
    settings=Settings, hospital_settings=HospitalSettings, migrations=Path(__file__).parent / "migrations",
    author="guahao",
)
