"""The declaration of the Tencent Cloud SMS sender: metadata and settings."""

from __future__ import annotations

from guahao.core.plugins.sender_settings import TEMPLATES_HELP, TEMPLATES_HELP_EN, SenderSettings
from guahao.plugin_api import PluginMeta, endpoint_setting, setting, timeout_setting


class Settings(SenderSettings):
    sdk_app_id: str = setting(label="短信应用 SdkAppId", label_en="SdkAppId", pattern=r"^\d{6,12}$", example="1400000000",
                              help="腾讯云短信控制台“应用管理”中的 SdkAppId。", help_en="The SdkAppId of the SMS application.")
    sign_name: str = setting(label="短信签名", label_en="Signature (签名)", max_length=40,
                             help="审核通过的签名内容。", help_en="The approved signature.")
    templates: dict[str, str | dict] = setting(default_factory=dict, label="短信模板", label_en="Templates",
                                               example={"booking_confirmed": {"code": "1000001", "params": ["no"]}},
                                               help=TEMPLATES_HELP + "腾讯云模板参数按顺序，params 可写成列表。",
                                               help_en=TEMPLATES_HELP_EN + " Tencent parameters are positional: "
                                                                           "params may be a list.")
    endpoint: str = endpoint_setting("https://sms.tencentcloudapi.com")
    region: str = setting("ap-guangzhou", label="地域", label_en="Region", pattern=r"^[a-z]{2}-[a-z]+(-\d+)?$",
                          help="如 ap-guangzhou、ap-beijing。", help_en="For example ap-guangzhou or ap-beijing.")
    timeout: float = timeout_setting(10.0, "短信网关", "the gateway")
    secret_id: str = setting(
        secret=True,
        label="SecretId",
        label_en="SecretId",
        min_length=8,
        help="建议使用只授权短信发送的子用户密钥。",
        help_en="Use a sub-user's key allowed to send SMS only.",
    )
    secret_key: str = setting(secret=True, label="SecretKey", label_en="SecretKey", min_length=8,
                              help="与 SecretId 成对。", help_en="The key paired with the SecretId.")


META = PluginMeta(
    name="sms_tencent", verbose_name="腾讯云短信", verbose_name_en="Tencent Cloud SMS", category="notification",
    version="1.0.0", description="通过腾讯云短信（SendSms 2021-01-11）发送预约、提醒和验证码短信。",
    description_en="Booking, reminder and login-code SMS through Tencent Cloud SMS (SendSms 2021-01-11).",
    settings=Settings, author="guahao",
)
