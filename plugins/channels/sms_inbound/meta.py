"""The declaration of SMS booking (短信预约): metadata and settings."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import field_validator

from guahao.plugin_api import PluginMeta, PluginSettings, setting

MOBILE = re.compile(r"^1[3-9]\d{9}$")


class Settings(PluginSettings):
    max_age_minutes: int = setting(
        720, label="上行短信有效期（分钟）", label_en="Oldest message acted on (minutes)", ge=5, le=2880,
        help="网关重推的上行短信若早于此时长发送，只记录不处理（阿里云最长约 6 小时内重推）。",
        help_en="An uplink sent longer ago than this (a late redelivery) is not acted on.",
    )
    tolerance_seconds: int = setting(
        300, label="generic 签名时间窗（秒）", label_en="generic signature window (seconds)", ge=30, le=900,
        help="generic 格式请求头 X-Guahao-Timestamp 与本机时间相差超过此值即拒绝。",
        help_en="A generic request whose X-Guahao-Timestamp is further from now than this is refused.",
    )
    aliases: dict[str, str] = setting(
        default_factory=dict, label="医院别名", label_en="Hospital aliases", example={"市一院": "H1", "协和": "H2"},
        help="短信中医院的其他叫法 → 医院代码；医院的代码、全称和简称总是可用。",
        help_en="Other names people use for a hospital → its code; code, name and short name always work.",
    )
    simulator: bool = setting(
        False, label="网页模拟手机", label_en="SMS simulator page",
        help="开启后 /c/<城市>/sms/simulator 提供网页模拟手机：以 generic 格式签名发送上行短信，显示平台的回复短信；"
             "需设置 generic 签名密钥。页面可查看任一号码收到的短信，只用于演示与培训（勿在生产环境开启）。",
        help_en="Serves a simulated mobile phone at /c/<city>/sms/simulator that sends signed generic uplinks and "
                "shows the reply texts (needs the generic secret). It shows any number's texts: demos and "
                "training only, never in production.",
    )
    simulator_phones: list[str] = setting(
        default_factory=list, label="模拟手机号码", label_en="Simulator numbers", widget="list",
        example=["13800000001"], max_length=20,
        help="模拟手机页面供选择的手机号（如演示会员的号码），也可在页面上输入其他号码。",
        help_en="Numbers the simulator offers to pick (the demo members'); any other can be typed.",
    )
    aliyun_token: str = setting(
        "", secret=True, label="阿里云上行回调令牌", label_en="Alibaba Cloud uplink token",
        pattern=r"^([A-Za-z0-9_\-]{16,128})?$",
        help="在阿里云短信控制台把上行消息 HTTP 推送地址设为 …/plugins/sms_inbound/aliyun?token=<令牌>。",
        help_en="Set the console's uplink HTTP push URL to …/plugins/sms_inbound/aliyun?token=<token>.",
    )
    tencent_token: str = setting(
        "", secret=True, label="腾讯云回复回调令牌", label_en="Tencent Cloud reply token",
        pattern=r"^([A-Za-z0-9_\-]{16,128})?$",
        help="在腾讯云短信控制台把回复回调地址设为 …/plugins/sms_inbound/tencent?token=<令牌>。",
        help_en="Set the console's reply callback URL to …/plugins/sms_inbound/tencent?token=<token>.",
    )
    generic_secret: str = setting(
        "", secret=True, label="generic 签名密钥", label_en="generic signing secret", pattern=r"^(\S{16,256})?$",
        help="其他短信网关以 HMAC-SHA256(密钥, 时间戳 + \".\" + 请求体) 签名，见 docs/channel-sms.md。",
        help_en="Other gateways sign HMAC-SHA256(secret, timestamp + \".\" + body); see docs/channel-sms.md.",
    )

    @field_validator("simulator_phones")
    @classmethod
    def _mobiles(cls, value: list[str]) -> list[str]:
        wrong = [v for v in value if not MOBILE.match(v)]
        if wrong:
            raise ValueError(f"不是11位手机号 / not a mainland mobile number: {', '.join(wrong)}")
        return value


META = PluginMeta(
    name="sms_inbound", verbose_name="短信预约", verbose_name_en="SMS booking", category="channel",
    version="1.0.0",
    description="会员发送“预约*姓名*日期*医院*科室”等短信即可预约、查询和取消，回复经本市短信通道发出。",
    description_en="Members book, list and cancel by text message (预约*姓名*日期*医院*科室…); replies go out "
                   "through the city's SMS sender.",
    settings=Settings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
