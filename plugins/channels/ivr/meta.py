"""The declaration of phone booking (电话预约, 12320): metadata and settings."""

from __future__ import annotations

from pathlib import Path

from guahao.plugin_api import PluginMeta, PluginSettings, endpoint_setting, setting, timeout_setting


class Settings(PluginSettings):
    agent_number: str = setting(
        "", label="人工坐席号码", label_en="Agent line", pattern=r"^(\+?[0-9]{3,20}|sip:\S{3,200})?$",
        example="+861012320",
        help="按0或多次输入无效时转接的号码或 SIP 地址（sip:…，通话编号放在 X-Guahao-Call 头中）；留空则礼貌挂机。",
        help_en="Number or SIP address (sip:…, the call reference in an X-Guahao-Call header) callers are put "
                "through to with 0; empty: no hand-off, the call ends politely.",
    )
    days_ahead: int = setting(
        7, label="可选日期天数", label_en="Days offered", ge=1, le=14,
        help="电话菜单列出明天起这些天中有号的日期（最多9个）。",
        help_en="The menu offers the days with open sessions among this many days from tomorrow (9 at most).",
    )
    gather_timeout: int = setting(
        6, label="按键等待（秒）", label_en="Key wait (seconds)", ge=3, le=20,
        help="每个提示后等待按键的秒数；超时重播提示，两次后转人工或挂机。",
        help_en="Seconds to wait for keys after a prompt; a timeout replays it, twice, then hands on.",
    )
    initials: dict[str, str] = setting(
        default_factory=dict, label="医院拼音首字母", label_en="Hospital initials", example={"H1": "DYRMYY,SYY"},
        help="医院代码 → 来电者可按键输入的拼音首字母（逗号分隔多个）；名称中的常用字已自动识别。",
        help_en="Hospital code → 拼音 initials callers may type (comma-separated); common characters are known.",
    )
    public_url: str = setting(
        "", label="对外地址", label_en="Public address", pattern=r"^(https?://[^\s/]+)?$", example="https://12320.example.cn",
        help="话务平台访问本站使用的地址（经反向代理时填写），用于校验请求签名。",
        help_en="The scheme and host the telephony platform calls (behind a proxy), used to check signatures.",
    )
    simulator: bool = setting(
        False, label="网页模拟电话", label_en="Phone simulator page",
        help="开启后 /c/<城市>/ivr/simulator 提供网页拨号盘，用于演示与培训（勿在生产环境开启）。",
        help_en="Serves a keypad page at /c/<city>/ivr/simulator for demos and training (not for production).",
    )
    account_sid: str = setting(
        "", label="账户 SID（外呼）", label_en="Account SID (outbound calls)", pattern=r"^(AC[0-9a-fA-F]{32})?$",
        example="AC" + "0" * 32,
        help="话务平台账户的 Account SID，语音外呼（如群发通知）用它和 Auth Token 调用 Calls 接口；留空则不外呼。",
        help_en="The telephony account's SID; outbound calls (broadcast notices) use it with the auth token on the "
                "Calls API. Empty: no outbound calls.",
    )
    caller_number: str = setting(
        "", label="外呼主叫号码", label_en="Caller number", pattern=r"^(\+[1-9][0-9]{6,14})?$", example="+861012320",
        help="外呼时显示的主叫号码（E.164 格式，须为话务平台账户下的号码）。",
        help_en="The number outbound calls come from (E.164, a number of the telephony account).",
    )
    api_base: str = endpoint_setting("https://api.twilio.com")
    timeout: float = timeout_setting(10.0, "话务平台", "the telephony platform")
    auth_token: str = setting(
        "", secret=True, label="话务平台 Auth Token", label_en="Telephony auth token", pattern=r"^(\S{16,128})?$",
        help="话务平台（Twilio 兼容）用于签名 X-Twilio-Signature 的令牌；未设置时拒绝所有来电请求。外呼时也用它认证。",
        help_en="The token the platform signs X-Twilio-Signature with; without it every request is refused. "
                "Outbound calls authenticate with it too.",
    )


META = PluginMeta(
    name="ivr", verbose_name="电话预约", verbose_name_en="Phone booking (IVR)", category="channel",
    version="1.0.0",
    description="12320 语音菜单：来电者按键选择医院、科室、医生、日期和时段完成预约，可查询、取消并转接人工。",
    description_en="The 12320 keypad menu: callers book by choosing hospital, department, doctor, date and "
                   "half-day, list and cancel bookings, and reach an agent with 0.",
    settings=Settings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
