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
    schedule_doctors: str = setting("", label="由 HIS 发布出诊的医生", label_en="Doctors whose sessions the HIS publishes",
                                    max_length=500,
                                    help="填 * 表示本院全部在岗医生，或填医生编号/姓名（逗号分隔）；"
                                         "同步时演示 HIS 发布其周一至周六下午的出诊。",
                                    help_en="* for every active doctor of the hospital, or doctor numbers or names "
                                            "(comma-separated): the demo HIS publishes their afternoons, Monday to Saturday.")
    schedule_capacity: int = setting(4, label="每时段公开号源", label_en="Public units per period", ge=0, le=50,
                                     help="演示 HIS 发布的每个时段的公开号源数（另有 1 个现场号）。",
                                     help_en="Public units of each period the demo HIS publishes (plus one on-site unit).")
    suspend_doctor: str = setting("", label="停诊医生", label_en="Doctor on leave", max_length=200,
                                  help="填医生编号或姓名：演示 HIS 把其出诊发布为停诊，用来演示停诊通知与退款。",
                                  help_en="A doctor number or name: the demo HIS publishes their sessions as "
                                          "cancelled (停诊), to show the notices and refunds.")
    no_show_percent: int = setting(20, label="爽约比例（%）", label_en="No-show share (%)", ge=0, le=100,
                                   help="时段结束仍未签到的预约中，演示 HIS 报告为爽约的比例（按预约号固定），其余报告为已就诊。",
                                   help_en="Of the bookings still not checked in when their period is over, the share "
                                           "the demo HIS reports as no-shows (fixed per booking); the rest as seen.")


META = PluginMeta(
    name="demo_his", verbose_name="演示 HIS", verbose_name_en="Demo HIS", category="his", version="1.0.0",
    description="平台内置的模拟医院信息系统：接收预约与取消，回报签到，发布出诊、就诊结果与缴费项目。",
    description_en="A simulated hospital system inside the platform: takes bookings and cancellations, "
                   "reports check-ins, publishes schedules, visit outcomes and fee items.",
    settings=Settings, hospital_settings=HospitalSettings, author="guahao",
)
