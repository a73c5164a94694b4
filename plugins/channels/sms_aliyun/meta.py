"""The declaration of the Alibaba Cloud SMS sender: metadata and settings."""

from __future__ import annotations

from guahao.core.plugins.sender_settings import TEMPLATES_HELP, TEMPLATES_HELP_EN, SenderSettings
from guahao.plugin_api import PluginMeta, endpoint_setting, setting, timeout_setting


class Settings(SenderSettings):
    sign_name: str = setting(
        label="短信签名",
        label_en="Signature (签名)",
        max_length=40,
        example="示例市预约挂号",
        help="在阿里云短信控制台审核通过的签名。",
        help_en="The signature approved in the Alibaba Cloud SMS console.",
    )
    templates: dict[str, str | dict] = setting(default_factory=dict, label="短信模板", label_en="Templates",
                                               example={"booking_confirmed": "SMS_000001"},
                                               help=TEMPLATES_HELP, help_en=TEMPLATES_HELP_EN)
    endpoint: str = endpoint_setting("https://dysmsapi.aliyuncs.com")
    timeout: float = timeout_setting(10.0, "短信网关", "the gateway")
    access_key_id: str = setting(secret=True, label="AccessKey ID", label_en="AccessKey ID", min_length=8,
                                 help="建议使用只授权短信发送的 RAM 子账号。", help_en="Use a RAM user allowed to send SMS only.")
    access_key_secret: str = setting(secret=True, label="AccessKey Secret", label_en="AccessKey Secret", min_length=8,
                                     help="与 AccessKey ID 成对。", help_en="The secret of that AccessKey.")


META = PluginMeta(
    name="sms_aliyun", verbose_name="阿里云短信", verbose_name_en="Alibaba Cloud SMS", category="notification",
    version="1.0.0", description="通过阿里云短信服务（SendSms）发送预约、提醒和验证码短信。",
    description_en="Booking, reminder and login-code SMS through Alibaba Cloud SMS (SendSms).",
    settings=Settings, author="guahao",
)
