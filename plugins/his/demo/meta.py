"""The declaration of the demo HIS: metadata and settings."""

from __future__ import annotations

from guahao.plugin_api import PluginMeta, PluginSettings, setting


class Settings(PluginSettings):
    fail_pushes: bool = setting(False, label="模拟推送失败", label_en="Refuse pushes",
                                help="打开后演示 HIS 拒收推送，用来演示重试与失败提醒。",
                                help_en="The demo HIS refuses pushes, to show retries and failure alerts.")
    token: str = setting("", secret=True, label="签到接口令牌", label_en="Check-in token", min_length=8,
                         help="演示 HIS 报告签到时在 X-Demo-His-Token 头中携带。",
                         help_en="Sent by the demo HIS in X-Demo-His-Token when it reports a check-in.")


class HospitalSettings(PluginSettings):
    fail_pushes: bool | None = setting(None, label="模拟本院 HIS 故障", label_en="This hospital's HIS refuses pushes",
                                       help="只让本院的推送失败，其他医院照常。",
                                       help_en="Only this hospital's pushes fail; other hospitals carry on.")


META = PluginMeta(
    name="demo_his", verbose_name="演示 HIS", verbose_name_en="Demo HIS", category="his", version="1.0.0",
    description="平台内置的模拟医院信息系统：接收预约与取消，回报签到。",
    description_en="A simulated hospital system inside the platform: takes bookings and cancellations, reports check-ins.",
    settings=Settings, hospital_settings=HospitalSettings, author="guahao",
)
